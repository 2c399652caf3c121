// Package frontend holds Duet's web page: a Vue app in this folder that Vite builds into dist/,
// embedded in the binary so that one file serves the page, the protocol and the health checks.
package frontend

import (
	"embed"
	"io/fs"
)

// files holds dist/ (the built page, never committed) and dist-unbuilt/ (committed: a page
// saying how to build the real one). A //go:embed pattern must match at least one file, so one
// pattern matching both folders keeps `go build`, `go vet` and `go test` working on a clean
// checkout, while a `make build` adds dist/ without touching a tracked file. The all: prefix
// keeps Rollup's chunks whose names start with an underscore.
//
//go:embed all:dist*
var files embed.FS

// Page returns the files to serve at /: the built app when dist/ holds one, else the page
// saying how to build it. Either way the root holds index.html.
func Page() fs.FS { return pick(files) }

// Built reports whether the binary holds the built app rather than the build instructions.
func Built() bool { return isBuilt(files) }

func pick(fsys fs.FS) fs.FS {
	dir := "dist-unbuilt"
	if isBuilt(fsys) {
		dir = "dist"
	}
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		// fs.Sub fails only on an invalid path, and both names are valid.
		panic(err)
	}
	return sub
}

func isBuilt(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, "dist/index.html")
	return err == nil
}
