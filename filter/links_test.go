package filter

import (
	"testing"

	"github.com/duetchat/duet"
)

func TestMessageRefusesLinksHoweverWritten(t *testing.T) {
	f := newFilter(t, Options{LinksAfter: -1})
	for name, text := range map[string]string{
		"https URL":                    "see https://example.org/x?y=1",
		"http URL":                     "http://example",
		"other scheme":                 "ftp://files",
		"mangled scheme":               "hxxps://example",
		"www":                          "www.example",
		"bare domain":                  "go to example.com now",
		"capitals":                     "EXAMPLE.COM",
		"at the end of a sentence":     "it's example.com.",
		"short link":                   "bit.ly/x",
		"country domain":               "example.co.uk",
		"new top-level domain":         "example.xyz",
		"subdomain":                    "chat.example.net",
		"email address":                "write to me@example.org",
		"square brackets":              "example[.]com",
		"round brackets with spaces":   "example (.) com",
		"dot in brackets":              "example(dot)com",
		"dot in brackets with spaces":  "example [dot] com",
		"dot spelled out":              "example dot com",
		"DOT spelled out":              "example DOT com",
		"spaced dot":                   "example . com",
		"dot after a space":            "example .com",
		"letters spaced out":           "e x a m p l e . c o m",
		"letters spaced out with dot":  "e x a m p l e dot c o m",
		"full width":                   "ｅｘａｍｐｌｅ．ｃｏｍ",
		"ideographic full stop":        "example。com",
		"middle dot":                   "example·com",
		"bullet":                       "example•com",
		"dot in leet":                  "example d0t com",
		"scheme spaced out":            "h t t p s : / / example",
		"www spaced out":               "w w w . example",
		"Cyrillic look-alikes":         "ехаmple.соm",
		"zero-width space in it":       "exam\u200bple.com",
		"leet top-level domain":        "example.c0m",
		"a file name that is a domain": "open main.py",
		"IPv4":                         "connect to 192.0.2.1",
		"IPv4 with port":               "192.0.2.1:8080",
		"IPv6":                         "2001:db8::1",
		"IPv6 after a word":            "ip:2001:db8::1",
		"IPv6 at the end of sentence":  "at 2001:db8::1.",
	} {
		t.Run(name, func(t *testing.T) {
			err := f.Message(text, Sent(100))
			if got := duet.ErrorCode(err); got != duet.ParamErr {
				t.Fatalf("Message(%q) code = %d, want %d (ParamErr); err = %v", text, got, duet.ParamErr, err)
			}
			if got, want := duet.ErrorMessage(err), "message not sent: links are not allowed in chats"; got != want {
				t.Errorf("Message(%q) says %q, want %q", text, got, want)
			}
		})
	}
}

func TestMessageAllowsTextWithDots(t *testing.T) {
	f := newFilter(t, Options{LinksAfter: -1})
	for name, text := range map[string]string{
		"ellipsis":                 "ok...sure",
		"ellipsis before a domain": "ok...com",
		"decimal":                  "pi is 3.14",
		"money":                    "it costs $1.5m",
		"version":                  "v1.2.3",
		"abbreviation":             "e.g. this, i.e. that",
		"initials":                 "U.S.A.",
		"title":                    "Mr. Smith",
		"sentences":                "I see. Com is short for com.",
		"text file":                "open file.txt",
		"script file":              "run main.go or app.js",
		"time":                     "see you at 12:30:15",
		"dot as a word":            "a dot in the sky",
		"dot between short words":  "the dot is red",
		"spaced dot and a word":    "I said so . in fact",
		"brackets":                 "(it) [is] {fine}",
		"colon":                    "note: this",
		"unspecified IPv6":         "::",
		"C++ scope":                "use std::vector or a::b::c",
		"Rust path":                "std::fmt::Debug",
		"emoticon":                 "::) :: ok",
		"number with many dots":    "1.2.3.4.5.6 is not an address: 999.1.1.1",
		"Catalan middle dot":       "un col·lega",
		"empty":                    "",
	} {
		t.Run(name, func(t *testing.T) {
			if err := f.Message(text, Sent(100)); err != nil {
				t.Errorf("Message(%q) = %v, want nil", text, err)
			}
		})
	}
}

func TestLinksAfterCountsTheSendersMessages(t *testing.T) {
	for _, tc := range []struct {
		name       string
		linksAfter int
		allowedAt  int // the first sentBefore at which a link is allowed, -1 for never
		refusal    string
	}{
		{"always allowed", 0, 0, ""},
		{"never allowed", -1, -1, "message not sent: links are not allowed in chats"},
		{"after one message", 1, 1, "message not sent: links are not allowed in your first message of a chat"},
		{"after three messages", 3, 3, "message not sent: links are not allowed in your first 3 messages of a chat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFilter(t, Options{LinksAfter: tc.linksAfter})
			for sent := range 6 {
				err := f.Message("visit example.com", Sent(sent))
				allowed := tc.allowedAt >= 0 && sent >= tc.allowedAt
				switch {
				case allowed && err != nil:
					t.Errorf("after %d messages: Message = %v, want nil", sent, err)
				case !allowed && duet.ErrorMessage(err) != tc.refusal:
					t.Errorf("after %d messages: Message = %v, want %q", sent, err, tc.refusal)
				}
				if err := f.Message("no link here", Sent(sent)); err != nil {
					t.Errorf("after %d messages: Message without a link = %v, want nil", sent, err)
				}
			}
		})
	}
}
