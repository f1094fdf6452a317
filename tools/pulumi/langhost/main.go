// hatang's Python language host for the Pulumi engine (built by hatang's scripts/pulumi-tools), because the
// proxy does not serve upstream's (its module, sdk/python/cmd/pulumi-language-python/v3, answers 403).
//
// Implements the part of the LanguageRuntime protocol that running Python programs and Python plugins (policy
// packs) needs. Programs run through the SDK's executor script, pulumi-language-python-exec, installed beside
// this binary; the interpreter comes from the project's runtime options (virtualenv, toolchain), resolved by the
// SDK's python/toolchain package. Code generation RPCs answer Unimplemented.
//
// This file: the process — flags, the executor's location, the engine health check, the gRPC server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	tracing := flag.String("tracing", "", "tracing endpoint, passed on to the executor")
	executor := flag.String("use-executor", "", "executor script (default: pulumi-language-python-exec beside this binary)")
	flag.String("virtualenv", "", "obsolete: the options arrive with each request")
	flag.String("root", "", "obsolete")
	flag.String("typechecker", "", "obsolete")
	flag.String("toolchain", "pip", "obsolete")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	execPath := *executor
	if execPath == "" {
		self, err := os.Executable()
		if err != nil {
			cmdutil.Exit(fmt.Errorf("cannot locate this executable: %w", err))
		}
		execPath = filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")
	}
	if _, err := os.Stat(execPath); err != nil {
		cmdutil.Exit(fmt.Errorf("missing executor: %w", err))
	}
	host := &pythonHost{exec: execPath, tracing: *tracing}
	if args := flag.Args(); len(args) > 0 {
		host.engine = args[0]
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	stop := make(chan bool)
	go func() { <-ctx.Done(); cancel(); close(stop) }()
	if host.engine != "" { // exit when the engine goes away
		if err := rpcutil.Healthcheck(ctx, host.engine, 5*time.Minute, cancel); err != nil {
			cmdutil.Exit(fmt.Errorf("could not start the health check: %w", err))
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the gRPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from the first line
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("stopped serving: %w", err))
	}
}
