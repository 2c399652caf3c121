package filter

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// A text is matched against the word list as a sequence of units: the folded letters of its
// words, with one gap unit between two words. Letters that were typed spaced out ("f u c k",
// "f.u.c.k") are joined into one word first. Inside a word, a digit or symbol is replaced by the
// letter it stands for, or the two it may stand for.
type unit struct {
	r     rune
	alt   rune // the other letter that a digit or symbol may stand for, or 0
	flags unitFlags
}

type unitFlags uint8

const (
	// mayStart marks a unit where a listed word may begin: the first letter of a word, or the
	// first after leading symbols ("$hit" may begin at "$" or at "h").
	mayStart unitFlags = 1 << iota
	// mayEnd marks a unit where a listed word may end: the last letter of a word, or the last
	// before trailing symbols ("ass!!" may end at the last "s" or the last "!").
	mayEnd
)

// gap is the unit between two words, and the separator of words in a listed phrase.
const gap = ' '

// maxSpacedGap is the most separators (spaces, dots, dashes…) between two single letters that
// are still read as one spaced-out word: "f u c k", "f . u . c . k".
const maxSpacedGap = 3

// leet returns the letter that the digit or symbol r is commonly typed for, and another that it
// may be typed for or 0; for any other rune it returns r and 0.
func leet(r rune) (letter, alt rune) {
	if r < utf8.RuneSelf {
		l := leetLetters[r]
		return l[0], l[1]
	}
	return r, 0
}

var leetLetters = func() (t [utf8.RuneSelf][2]rune) {
	for c := range t {
		t[c][0] = rune(c)
	}
	for _, l := range []string{"0o", "1il", "|il", "2z", "3e", "4a", "@a", "5s", "$s", "6bg", "7t", "8b", "9g", "!i"} {
		copy(t[l[0]][:], []rune(l[1:]))
	}
	return t
}()

// runeClass is what a folded rune is to the word scanner.
type runeClass uint8

const (
	nonWord    runeClass = iota // white space, punctuation and the rest
	letter                      // a letter, or a spacing mark inside a word of an Indic script
	digit                       // read as a letter inside a word, as itself in a number
	symbol                      // read as a letter inside a word: @ $ ! |
	apostrophe                  // dropped from inside a word: "don't" is read "dont"
	wordBreak                   // a caseBreak: a listed word may begin or end here
)

func classify(r rune) runeClass {
	if uint32(r) < utf8.RuneSelf {
		return asciiClasses[r]
	}
	return classifyNonASCII(r)
}

func classifyNonASCII(r rune) runeClass {
	switch {
	case r == caseBreak:
		return wordBreak
	case r == '\u2019' || r == '\u02bc': // right single quotation mark, modifier letter apostrophe
		return apostrophe
	case unicode.IsLetter(r) || unicode.Is(unicode.Mc, r):
		return letter
	case unicode.IsDigit(r):
		return digit
	}
	return nonWord
}

var asciiClasses = func() (t [utf8.RuneSelf]runeClass) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			t[c] = letter
		case '0' <= c && c <= '9':
			t[c] = digit
		case c == '@' || c == '$' || c == '!' || c == '|':
			t[c] = symbol
		case c == '\'' || c == '`':
			t[c] = apostrophe
		}
	}
	return t
}()

// token is one word of a folded text: the runes text[from:to], less apostrophes and case breaks.
// A word begins with a letter, digit or symbol; an apostrophe is a separator unless it is inside
// a word.
type token struct {
	from, to  int
	runes     int  // word runes: apostrophes and case breaks not counted
	sepBefore int  // separator runes between the previous token and this one
	letter    bool // it has a letter
	digit     bool // it has a digit
}

// scan appends the units of the folded text to units, using toks as scratch space.
func scan(text []rune, units []unit, toks []token) ([]unit, []token) {
	toks = toks[:0]
	sep := 0
	for i := 0; i < len(text); {
		switch classify(text[i]) {
		case nonWord, apostrophe, wordBreak:
			if text[i] != ' ' || i == 0 || text[i-1] != ' ' { // a run of spaces is one separator, as in Normalize
				sep++
			}
			i++
			continue
		}
		t := token{from: i, sepBefore: sep}
		for ; i < len(text); i++ {
			c := classify(text[i])
			if c == nonWord {
				break
			}
			if c != apostrophe && c != wordBreak {
				t.runes++
			}
			t.letter = t.letter || c == letter
			t.digit = t.digit || c == digit
		}
		t.to = i
		toks = append(toks, t)
		sep = 0
	}
	for i := 0; i < len(toks); {
		// A word is one token, or a run of single-rune tokens close together.
		j := i + 1
		if toks[i].runes == 1 {
			for j < len(toks) && toks[j].runes == 1 && toks[j].sepBefore <= maxSpacedGap {
				j++
			}
		}
		if i > 0 {
			units = append(units, unit{r: gap})
		}
		units = appendWord(units, text, toks[i:j])
		i = j
	}
	return units, toks
}

// appendWord appends the units of one word, made of toks: one token, or single runes spaced out.
func appendWord(units []unit, text []rune, toks []token) []unit {
	first := len(units)
	if len(toks) > 1 {
		for k, t := range toks {
			flags := mayEnd
			// A repeated letter cannot begin a match that the letter before it does not.
			if k == 0 || text[t.from] != text[toks[k-1].from] {
				flags |= mayStart
			}
			units = append(units, unit{r: text[t.from], flags: flags})
		}
	} else {
		t := toks[0]
		var flags unitFlags
		for _, r := range text[t.from:t.to] {
			switch classify(r) {
			case apostrophe:
			case wordBreak:
				units[len(units)-1].flags |= mayEnd
				flags = mayStart
			default:
				units = append(units, unit{r: r, flags: flags})
				flags = 0
			}
		}
		word := units[first:]
		word[0].flags |= mayStart
		word[len(word)-1].flags |= mayEnd
		if lead := indexFunc(word, func(u unit) bool { return classify(u.r) != symbol }); lead > 0 {
			word[lead].flags |= mayStart
		}
		if trail := lastIndexFunc(word, func(u unit) bool { return classify(u.r) != symbol }); trail >= 0 {
			word[trail].flags |= mayEnd
		}
		for i, u := range word {
			if !isUnspaced(u.r) {
				continue
			}
			// Any character of a script written without spaces may begin or end a word.
			word[i].flags |= mayStart | mayEnd
			if i > 0 {
				word[i-1].flags |= mayEnd
			}
			if i+1 < len(word) {
				word[i+1].flags |= mayStart
			}
		}
	}
	var hasLetter, hasDigit bool
	for _, t := range toks {
		hasLetter, hasDigit = hasLetter || t.letter, hasDigit || t.digit
	}
	if hasDigit && !hasLetter {
		return units // a number: its digits stand for themselves
	}
	for i := first; i < len(units); i++ {
		units[i].r, units[i].alt = leet(units[i].r)
	}
	return units
}

// unspacedScripts are the scripts written without spaces between words.
var unspacedScripts = []*unicode.RangeTable{
	unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar,
}

func isUnspaced(r rune) bool {
	return r >= 0x0e00 && unicode.IsOneOf(unspacedScripts, r) // Thai, the first of them, starts at U+0E00
}

func indexFunc(us []unit, f func(unit) bool) int {
	for i, u := range us {
		if f(u) {
			return i
		}
	}
	return -1
}

func lastIndexFunc(us []unit, f func(unit) bool) int {
	for i := len(us) - 1; i >= 0; i-- {
		if f(us[i]) {
			return i
		}
	}
	return -1
}

// trie holds the listed words and phrases, spelled as scan spells them (a digit or symbol that
// may stand for two letters stands for the first), with a gap between the words of a phrase.
type trie struct {
	nodes []node // nodes[0] is the root
	words int
	// rootASCII indexes the root's children on ASCII runes, where most words begin, most of
	// which match nothing.
	rootASCII [utf8.RuneSelf]int32
}

type node struct {
	r     rune   // the rune on the edge into this node
	edges []edge // sorted by rune
	gap   int32  // the child on a gap, or 0 for none
	word  bool   // a listed word or phrase ends here
}

type edge struct {
	r  rune
	to int32
}

func newTrie() *trie { return &trie{nodes: make([]node, 1)} }

// child returns the node reached from n by r, or 0.
func (t *trie) child(n int32, r rune) int32 {
	if n == 0 && r < utf8.RuneSelf {
		return t.rootASCII[r]
	}
	edges := t.nodes[n].edges
	for len(edges) > 8 {
		mid := len(edges) / 2
		if r < edges[mid].r {
			edges = edges[:mid]
		} else {
			edges = edges[mid:]
		}
	}
	for _, e := range edges {
		if e.r == r {
			return e.to
		}
	}
	return 0
}

// add puts one word or phrase, given as scanned units, into the trie.
func (t *trie) add(units []unit) {
	var n int32
	for _, u := range units {
		r := u.r
		next := t.child(n, r)
		if next == 0 {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, node{r: r})
			edges := t.nodes[n].edges
			i, _ := slices.BinarySearchFunc(edges, r, func(e edge, r rune) int { return cmp.Compare(e.r, r) })
			t.nodes[n].edges = slices.Insert(edges, i, edge{r, next})
			if n == 0 && r < utf8.RuneSelf {
				t.rootASCII[r] = next
			}
			if r == gap {
				t.nodes[n].gap = next
			}
		}
		n = next
	}
	if !t.nodes[n].word {
		t.nodes[n].word = true
		t.words++
	}
}

// parseWords reads a word list: one word or phrase per line, blank lines and lines that begin
// with '#' ignored. name is the file's name, for errors.
func parseWords(name string, data []byte) (*trie, error) {
	t := newTrie()
	var s scratch
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\uFEFF")))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("filter: %s:%d: not valid UTF-8", name, i+1)
		}
		s.units, s.tokens = scan(appendFoldedString(s.runes[:0], string(line)), s.units[:0], s.tokens)
		if len(s.units) == 0 {
			return nil, fmt.Errorf("filter: %s:%d: %q has no letters or digits to match", name, i+1, line)
		}
		t.add(s.units)
	}
	return t, nil
}

// match reports whether units contain a listed word or phrase, using s for scratch space.
//
// From each unit where a word may start, it follows the trie with the set of nodes that the
// units so far can spell: a digit or symbol may stand for one of two letters, a letter may be
// repeated ("fuuuck" spells "fuck"), and the gap inside a phrase may be left out ("killyourself").
// A match must end where a word may end, so "class" does not match "ass".
func (t *trie) match(units []unit, s *scratch) bool {
	for start, u := range units {
		if u.flags&mayStart == 0 {
			continue
		}
		s.states = append(s.states[:0], 0)
		for _, u := range units[start:] {
			letters, n := [2]rune{u.r, u.alt}, 1
			if u.alt != 0 {
				n = 2
			}
			s.next = s.next[:0]
			for _, from := range s.states {
				for _, r := range letters[:n] {
					if to := t.child(from, r); to != 0 {
						s.next = t.enter(s.next, to)
					}
					if from != 0 && t.nodes[from].r == r {
						s.next = t.enter(s.next, from)
					}
				}
			}
			if len(s.next) == 0 {
				break
			}
			if u.flags&mayEnd != 0 {
				for _, n := range s.next {
					if t.nodes[n].word {
						return true
					}
				}
			}
			s.states, s.next = s.next, s.states
		}
	}
	return false
}

// enter adds node n to the set states, with the gap after it, which a phrase may leave out.
func (t *trie) enter(states []int32, n int32) []int32 {
	states = addState(states, n)
	if g := t.nodes[n].gap; g != 0 {
		states = addState(states, g)
	}
	return states
}

func addState(states []int32, n int32) []int32 {
	for _, s := range states {
		if s == n {
			return states
		}
	}
	return append(states, n)
}
