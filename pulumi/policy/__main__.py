"""The hatang CrossGuard pack: the only place a PolicyPack is constructed (it starts a server).

Usage: HATANG_INVENTORY=inventories/<site> pulumi preview --policy-pack pulumi/policy ...
The rules live in infra.stacks.policies, where tests and `hatang plan --resources` call them.
"""

from infra.stacks.policy_pack import serve

serve()
