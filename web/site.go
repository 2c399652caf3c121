package web

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// SiteTexts are what the operator says of the site: the page shows them instead of its
// built-in texts, and keeps the built-in text for each one left empty.
type SiteTexts struct {
	Name    string `json:"name,omitempty"`    // the site's name, instead of "Duet"
	Contact string `json:"contact,omitempty"` // an email address or an http(s) URL
	Abuse   string `json:"abuse,omitempty"`   // where to report abuse: an email address or an http(s) URL
	Rules   string `json:"rules,omitempty"`   // plain text: paragraphs, and lines starting with "- " as lists
	Privacy string `json:"privacy,omitempty"` // the same form as Rules
}

// MaxSiteText is the largest rules or privacy file, in bytes.
const MaxSiteText = 64 << 10

// ReadSiteText reads a rules or privacy file: UTF-8 text of at most MaxSiteText bytes that is
// not blank, with its line ends made \n. An empty path reads as no text.
func ReadSiteText(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSiteText+1))
	switch {
	case err != nil:
		return "", err
	case len(data) > MaxSiteText:
		return "", fmt.Errorf("%s is larger than %d KiB", path, MaxSiteText>>10)
	case !utf8.Valid(data):
		return "", fmt.Errorf("%s is not UTF-8 text", path)
	}
	text := strings.TrimSpace(strings.ReplaceAll(string(data), "\r\n", "\n"))
	if text == "" {
		return "", errors.New(path + " is empty")
	}
	return text, nil
}
