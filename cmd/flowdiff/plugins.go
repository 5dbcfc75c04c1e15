package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flowdiff/flowdiff-go/plugins/host"
	"github.com/urfave/cli/v2"
)

// pluginFlags are the global flags for plugins.
func pluginFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "plugins-dir", Usage: "a folder of plugins (one sub-folder with a plugin.yaml each), repeatable; $" + host.EnvPlugins + " adds more (separated by " + string(os.PathListSeparator) + ")"},
		&cli.DurationFlag{Name: "plugin-timeout", Value: host.DefaultCallTimeout, Usage: "deadline of one call into a plugin (a plugin's manifest may set its own)", EnvVars: []string{"FLOWDIFF_PLUGIN_TIMEOUT"}},
	}
}

// loadPlugins loads the folders of --plugins-dir and $FLOWDIFF_PLUGINS into the registry.
// A folder that fails to load is logged and shown by `flowdiff plugins list`; it does not stop
// other commands.
func loadPlugins(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return err
	}
	host.Default.SetOptions(host.Options{CallTimeout: c.Duration("plugin-timeout"), Log: log})
	errs := []error{host.Default.LoadEnv()}
	for _, d := range c.StringSlice("plugins-dir") {
		errs = append(errs, host.Default.LoadDir(d))
	}
	if err := errors.Join(errs...); err != nil {
		log.Warn("some plugins were not loaded (see `flowdiff plugins list`)", "err", err)
	}
	return nil
}

// stopPlugins stops the plugin processes this command started and unloads the plugins.
func stopPlugins(*cli.Context) error {
	host.Default.Reset()
	host.Cleanup()
	return nil
}

func pluginsCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugins",
		Usage: "list, check, describe and seal out-of-process plugins (see docs/plugins.md)",
		Description: "Plugins are loaded from --plugins-dir, $" + host.EnvPlugins + " and a pipeline's plugins_dir:.\n" +
			"Their parts join the registry: `flowdiff ops list` shows them with their origin.",
		Subcommands: []*cli.Command{
			{
				Name:         "list",
				Usage:        "print the loaded plugins: version, checksum state, parts and folder",
				OnUsageError: subcommandUsageError,
				Action: func(c *cli.Context) error {
					if len(host.Default.Plugins()) == 0 && len(host.Default.Broken()) == 0 {
						fmt.Fprintln(c.App.Writer, "no plugins loaded: name a folder with --plugins-dir DIR or $"+host.EnvPlugins)
						return nil
					}
					return host.Default.List(c.App.Writer)
				},
			},
			{
				Name:      "check",
				Usage:     "start each plugin and run the conformance suite on every part through its process",
				ArgsUsage: "[PLUGIN...]",
				Description: "Without names, checks every loaded plugin; a folder that failed to load counts as failed.\n" +
					"Exits 1 if any check fails.",
				OnUsageError: subcommandUsageError,
				Action:       pluginsCheck,
			},
			{
				Name:         "describe",
				Usage:        "start the plugin providing ID and print what it says about the part",
				ArgsUsage:    "ID",
				OnUsageError: subcommandUsageError,
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("plugins describe needs one ID, e.g. `flowdiff plugins describe micro.widefield`")
					}
					return host.Default.Describe(c.Context, c.App.Writer, c.Args().First())
				},
			},
			{
				Name:      "seal",
				Usage:     "record the sha256 of a plugin's files and what it provides in its plugin.yaml",
				ArgsUsage: "DIR...",
				Description: "Run after building or updating a plugin, in each plugin folder you trust. It starts the\n" +
					"plugin to ask what it provides.",
				OnUsageError: subcommandUsageError,
				Action: func(c *cli.Context) error {
					if c.NArg() == 0 {
						return usagef("plugins seal needs at least one plugin folder")
					}
					for _, d := range c.Args().Slice() {
						m, err := host.Seal(c.Context, d, host.Options{CallTimeout: c.Duration("plugin-timeout")})
						if err != nil {
							return err
						}
						fmt.Fprintf(c.App.Writer, "sealed %s %s (%d parts) in %s\n", m.Name, m.Version, len(m.Provides), filepath.Join(d, host.ManifestFile))
					}
					return nil
				},
			},
		},
	}
}

func pluginsCheck(c *cli.Context) error {
	want := map[string]bool{}
	for _, n := range c.Args().Slice() {
		want[n] = true
	}
	failed, total := 0, 0
	start := time.Now()
	for _, p := range host.Default.Plugins() {
		if len(want) > 0 && !want[p.Name()] {
			continue
		}
		delete(want, p.Name())
		fmt.Fprintf(c.App.Writer, "plugin %s %s (%s)\n", p.Name(), p.Manifest.Version, p.Dir)
		for _, r := range host.Default.Check(c.Context, p) {
			total++
			fmt.Fprintf(c.App.Writer, "  %s\n", r.Subject)
			for _, ch := range r.Checks {
				fmt.Fprintf(c.App.Writer, "    %s\n", ch)
			}
			if !r.OK() {
				failed++
			}
		}
	}
	for n := range want {
		return usagef("no loaded plugin is named %q (`flowdiff plugins list`)", n)
	}
	if len(c.Args().Slice()) == 0 {
		for _, b := range host.Default.Broken() {
			total++
			failed++
			fmt.Fprintf(c.App.Writer, "not loaded: %s\n  %v\n", b.Dir, b.Err)
		}
	}
	if total == 0 {
		return usagef("no plugins loaded: name a folder with --plugins-dir DIR or $%s", host.EnvPlugins)
	}
	if failed > 0 {
		return fmt.Errorf("plugins check: %d of %d parts failed", failed, total)
	}
	fmt.Fprintf(c.App.Writer, "all %d plugin parts passed (%.1fs)\n", total, time.Since(start).Seconds())
	return nil
}
