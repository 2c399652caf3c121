package filter

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/publicsuffix"
)

// label is a run of letters, digits and hyphens of a folded text, copied to scratch.joined as
// joined[from:to], and what separates it from the next label.
type label struct {
	from, to int
	after    separator
	spaced   bool // made of letters typed with spaces between them
}

// separator is the kind of text between two labels.
type separator uint8

const (
	sepOther  separator = iota
	sepSpace            // white space only
	sepOpen             // an opening bracket, maybe with white space around: "example (dot) com"
	sepClose            // a closing bracket, maybe with white space around
	sepDot              // a dot as in a domain: "example.com"
	sepMasked           // a dot written so that it does not link: "example[.]com", "example(dot)com"
	sepSpaced           // a dot with white space before it, or the word "dot": "example . com", "example dot com"
	sepScheme           // "://"
)

// hasLink reports whether the folded text holds a link: a URL with a scheme, a domain name with a
// top-level domain, or an IP address, also when written to dodge link detection ("example dot
// com", "example[.]com", "e x a m p l e . c o m").
//
// A plainly written domain counts with any top-level domain of the public suffix list ("bit.ly",
// "example.zip"), a masked one too ("example[.]com"); one with a spaced dot or the word "dot"
// counts only with a top-level domain that is not also an English word ("example dot com", but
// not "a dot in the sky"). A dot followed by white space ends a sentence ("Mr. Smith"), and a
// "domain" whose last part is not a top-level domain is text ("file.txt", "3.14", "e.g.").
func hasLink(text []rune, s *scratch) bool {
	if hasIPv6(text) {
		return true
	}
	s.labels, s.joined = s.labels[:0], s.joined[:0]
	for i := 0; i < len(text); {
		if !isLabelRune(text[i]) {
			i++
			continue
		}
		l := label{from: len(s.joined)}
		for ; i < len(text) && (isLabelRune(text[i]) || text[i] == caseBreak); i++ {
			if text[i] != caseBreak { // case makes no difference to a link
				s.joined = append(s.joined, text[i])
			}
		}
		l.to = len(s.joined)
		sepFrom := i
		for i < len(text) && !isLabelRune(text[i]) {
			i++
		}
		if i < len(text) {
			l.after = classifySeparator(text[sepFrom:i])
		}
		s.labels = append(s.labels, l)
	}
	labels := readDotWords(s.labels, s.joined)
	labels = joinSpacedLetters(labels)
	for i, l := range labels {
		switch {
		case l.after == sepScheme:
			return true
		case isDot(l.after) && i+1 < len(labels):
			if runesAre(s.joined[l.from:l.to], "www") || isTopLevelDomain(s.joined[labels[i+1].from:labels[i+1].to], l.after) {
				return true
			}
			if (i == 0 || labels[i-1].after != sepDot) && isIPv4(s.joined, labels[i:]) {
				return true
			}
		}
	}
	return false
}

func isLabelRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' // folded: no capitals
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// runesAre reports whether rs spells the ASCII string s.
func runesAre(rs []rune, s string) bool {
	if len(rs) != len(s) {
		return false
	}
	for i, r := range rs {
		if r != rune(s[i]) {
			return false
		}
	}
	return true
}

func isDot(s separator) bool { return s == sepDot || s == sepMasked || s == sepSpaced }

// classifySeparator tells what the text between two labels is.
func classifySeparator(sep []rune) separator {
	var compact [8]rune
	n := 0
	spaceBefore, spaceAfter := false, false
	for _, r := range sep {
		switch {
		case r == ' ':
			if n == 0 {
				spaceBefore = true
			} else {
				spaceAfter = true
			}
			continue
		case n == len(compact):
			return sepOther
		case isDotLike(r):
			r = '.'
		}
		compact[n] = r
		n++
	}
	switch c := string(compact[:n]); {
	case c == "":
		return sepSpace
	case c == "." && !spaceBefore && !spaceAfter:
		return sepDot
	case c == "." && spaceBefore:
		return sepSpaced
	case c == "(.)" || c == "[.]" || c == "{.}" || c == "<.>":
		return sepMasked
	case c == "(" || c == "[" || c == "{" || c == "<":
		return sepOpen
	case c == ")" || c == "]" || c == "}" || c == ">":
		return sepClose
	case strings.HasPrefix(c, "://"):
		return sepScheme
	}
	return sepOther
}

// isDotLike reports whether r is drawn as a dot and may stand for one in a domain name: the
// ideographic full stop and the middle dots.
func isDotLike(r rune) bool {
	switch r {
	case '\u3002', '\u00b7', '\u2022', '\u2219', '\u30fb':
		return true
	}
	return false
}

// readDotWords removes the labels that are the word "dot" standing for a dot, in place: between
// spaces ("example dot com") or brackets ("example(dot)com", "example [dot] com").
func readDotWords(labels []label, joined []rune) []label {
	out := labels[:0]
	for _, l := range labels {
		if n := len(out); n > 0 && (runesAre(joined[l.from:l.to], "dot") || runesAre(joined[l.from:l.to], "d0t")) {
			prev := &out[n-1]
			switch {
			case prev.after == sepSpace && l.after == sepSpace:
				prev.after = sepSpaced
				continue
			case prev.after == sepOpen && l.after == sepClose:
				prev.after = sepMasked
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

// joinSpacedLetters joins, in place, runs of one-letter labels separated by white space only
// ("e x a m p l e" becomes "example"). Labels separated by white space are next to each other in
// joined, so joining them only moves an end.
func joinSpacedLetters(labels []label) []label {
	out := labels[:0]
	for _, l := range labels {
		if n := len(out); n > 0 && l.to-l.from == 1 && out[n-1].after == sepSpace && (out[n-1].spaced || out[n-1].to-out[n-1].from == 1) {
			prev := &out[n-1]
			prev.to, prev.after, prev.spaced = l.to, l.after, true
			continue
		}
		out = append(out, l)
	}
	return out
}

// isTopLevelDomain reports whether label is a top-level domain after a dot of kind sep. Digits
// in a label of at least two letters are read as letters ("c0m").
func isTopLevelDomain(label []rune, sep separator) bool {
	if len(label) < 2 || len(label) > maxTopLevelDomain {
		return false
	}
	var buf [maxTopLevelDomain]byte
	letters := 0
	for i, r := range label {
		switch {
		case 'a' <= r && r <= 'z':
			letters++
		case r != '-' && (r < '0' || r > '9'):
			return false
		}
		buf[i] = byte(r)
	}
	if letters < 2 {
		return false
	}
	tld := buf[:len(label)]
	if !bytes.HasPrefix(tld, []byte("xn--")) { // punycode, whose digits are digits
		for i, c := range tld {
			if '0' <= c && c <= '9' {
				letter, _ := leet(rune(c))
				tld[i] = byte(letter)
			}
		}
	}
	if sep == sepSpaced {
		return commonTopLevelDomains[string(tld)]
	}
	_, icann := publicsuffix.PublicSuffix(string(tld))
	return icann
}

// maxTopLevelDomain is longer than any top-level domain in use ("xn--vermgensberatung-pwb" is 24).
const maxTopLevelDomain = 32

// commonTopLevelDomains are the top-level domains most seen in spam that are not also English
// words, which "example dot com" and "example . com" must end with to count as links.
var commonTopLevelDomains = map[string]bool{
	"com": true, "net": true, "org": true, "info": true, "biz": true, "io": true, "co": true,
	"ly": true, "gg": true, "xyz": true, "ru": true, "de": true, "uk": true, "tk": true,
	"ml": true, "ga": true, "cf": true, "gq": true, "tv": true, "cc": true, "ws": true,
	"su": true, "cn": true, "fr": true, "nl": true, "pl": true, "br": true, "au": true,
	"ca": true, "jp": true, "es": true, "eu": true, "ch": true, "icu": true, "cyou": true,
}

// isIPv4 reports whether labels begin with a dotted-quad IPv4 address: four numbers of at most
// 255 with plain dots between them, and no fifth.
func isIPv4(joined []rune, labels []label) bool {
	if len(labels) < 4 || len(labels) > 4 && labels[3].after == sepDot {
		return false
	}
	for i, l := range labels[:4] {
		if i < 3 && l.after != sepDot {
			return false
		}
		if l.to-l.from > 3 {
			return false
		}
		n := 0
		for _, r := range joined[l.from:l.to] {
			if r < '0' || r > '9' {
				return false
			}
			n = n*10 + int(r-'0')
		}
		if n > 255 {
			return false
		}
	}
	return true
}

// hasIPv6 reports whether text holds an IPv6 address: a run of hexadecimal digits, colons and
// dots with at least two colons, not part of a longer word ("std::vector"), that parses as an
// address other than "::".
func hasIPv6(text []rune) bool {
	for i := 0; i < len(text); {
		j, colons := i, 0
		for ; j < len(text) && isIPv6Rune(text[j]); j++ {
			if text[j] == ':' {
				colons++
			}
		}
		if colons >= 2 && (j == len(text) || !isLabelRune(text[j])) {
			candidate := string(text[i:j])
			switch {
			case i == 0 || !isLabelRune(text[i-1]):
			case candidate[0] == ':' && candidate[1] != ':': // a label before a colon: "ip:2001:db8::1"
				candidate = candidate[1:]
			default:
				candidate = "" // the end of a longer word
			}
			candidate = strings.TrimRight(candidate, ".") // the end of a sentence
			if ip, err := netip.ParseAddr(candidate); err == nil && !ip.IsUnspecified() {
				return true
			}
		}
		i = j + 1
	}
	return false
}

func isIPv6Rune(r rune) bool {
	return r == ':' || r == '.' || '0' <= r && r <= '9' || 'a' <= r && r <= 'f'
}
