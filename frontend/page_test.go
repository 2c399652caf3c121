package frontend

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestPick(t *testing.T) {
	unbuilt := &fstest.MapFile{Data: []byte("run make build")}
	tests := map[string]struct {
		files fstest.MapFS
		want  string
	}{
		"never built": {fstest.MapFS{"dist-unbuilt/index.html": unbuilt}, "make build"},
		"built": {fstest.MapFS{
			"dist-unbuilt/index.html":   unbuilt,
			"dist/index.html":           {Data: []byte(`<div id="app"></div>`)},
			"dist/assets/index-Ab12.js": {Data: []byte("app")},
		}, `<div id="app">`},
		"build in progress": {fstest.MapFS{
			"dist-unbuilt/index.html":   unbuilt,
			"dist/assets/index-Ab12.js": {Data: []byte("app")},
		}, "make build"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			index, err := fs.ReadFile(pick(tt.files), "index.html")
			if err != nil || !strings.Contains(string(index), tt.want) {
				t.Errorf("index.html = %q, %v; want it to contain %q", index, err, tt.want)
			}
		})
	}
}

// TestPage checks the page this binary embeds, whichever it is.
func TestPage(t *testing.T) {
	index, err := fs.ReadFile(Page(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	want := "make build"
	if Built() {
		want = `<div id="app">`
	}
	if !strings.Contains(string(index), want) {
		t.Errorf("index.html = %q, want it to contain %q (built: %v)", index, want, Built())
	}
}
