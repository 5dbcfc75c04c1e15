package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/lmittmann/tint"
	"github.com/urfave/cli/v2"
)

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text (colored, for people) or json (one object per line, for machines)", EnvVars: []string{"FLOWDIFF_LOG_FORMAT"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "least severe level logged: debug, info, warn or error", EnvVars: []string{"FLOWDIFF_LOG_LEVEL"}},
	}
}

// newLogger builds the logger the flags ask for; logs go to stderr so stdout stays for
// results.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	w := c.App.ErrWriter
	switch c.String("log-format") {
	case "text":
		noColor := true
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				noColor = false
			}
		}
		return slog.New(tint.NewHandler(w, &tint.Options{Level: level, TimeFormat: time.TimeOnly, NoColor: noColor})), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})), nil
	}
	return nil, usagef("--log-format %q: use text or json", c.String("log-format"))
}

// logger returns the logger for a command (flags were checked in Before).
func logger(c *cli.Context) *slog.Logger {
	l, err := newLogger(c)
	if err != nil {
		panic(fmt.Sprintf("logger flags passed Before but fail now: %v", err))
	}
	return l
}
