package filter

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// A text is matched against the word list as a sequence of units: the folded letters of its
// words, with one gap unit between two words. Letters that were typed spaced out ("f u c k",
// "f.u.c.k") are joined into one word first.
type unit struct {
	r     rune
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
	// literal marks a unit of a number: its digits stand for themselves, not for letters.
	literal
)

// gap is the unit between two words, and the separator of words in a listed phrase.
const gap = ' '

// maxSpacedGap is the most separators (spaces, dots, dashes…) between two single letters that
// are still read as one spaced-out word: "f u c k", "f . u . c . k".
const maxSpacedGap = 3

// leet returns the letters that the digit or symbol r is commonly typed for, or r itself.
func leet(r rune) (letters [2]rune, n int) {
	switch r {
	case '0':
		return [2]rune{'o'}, 1
	case '1', '|':
		return [2]rune{'i', 'l'}, 2
	case '2':
		return [2]rune{'z'}, 1
	case '3':
		return [2]rune{'e'}, 1
	case '4', '@':
		return [2]rune{'a'}, 1
	case '5', '$':
		return [2]rune{'s'}, 1
	case '6':
		return [2]rune{'b', 'g'}, 2
	case '7':
		return [2]rune{'t'}, 1
	case '8':
		return [2]rune{'b'}, 1
	case '9':
		return [2]rune{'g'}, 1
	case '!':
		return [2]rune{'i'}, 1
	}
	return [2]rune{r}, 1
}

// isLeetSymbol reports whether r is a symbol that is read as a letter inside a word.
func isLeetSymbol(r rune) bool {
	return r == '@' || r == '$' || r == '!' || r == '|'
}

// isApostrophe reports whether r is dropped from inside words: "don't" is read "dont".
func isApostrophe(r rune) bool {
	return r == '\'' || r == '`' || r == '\u2019' || r == '\u02bc'
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r) || isLeetSymbol(r)
}

// token is one word of a folded text: the runes text[from:to], less apostrophes.
type token struct {
	from, to  int
	runes     int  // word runes, apostrophes not counted
	sepBefore int  // separator runes between the previous token and this one
	letter    bool // it has a letter
	digit     bool // it has a digit
}

// scan appends the units of the folded text to units, using toks as scratch space.
func scan(text []rune, units []unit, toks []token) ([]unit, []token) {
	toks = toks[:0]
	sep := 0
	for i := 0; i < len(text); {
		r := text[i]
		if !isWordRune(r) {
			sep++
			i++
			continue
		}
		t := token{from: i, sepBefore: sep}
		for ; i < len(text) && (isWordRune(text[i]) || isApostrophe(text[i])); i++ {
			if isApostrophe(text[i]) {
				continue
			}
			t.runes++
			t.letter = t.letter || unicode.IsLetter(text[i])
			t.digit = t.digit || unicode.IsDigit(text[i])
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
	var letter, digit bool
	for _, t := range toks {
		letter, digit = letter || t.letter, digit || t.digit
	}
	var flags unitFlags
	if digit && !letter {
		flags = literal
	}
	if len(toks) > 1 {
		for k, t := range toks {
			f := flags | mayEnd
			// A repeated letter cannot begin a match that the letter before it does not.
			if k == 0 || text[t.from] != text[toks[k-1].from] {
				f |= mayStart
			}
			units = append(units, unit{r: text[t.from], flags: f})
		}
		return units
	}
	first := len(units)
	t := toks[0]
	for _, r := range text[t.from:t.to] {
		if !isApostrophe(r) {
			units = append(units, unit{r: r, flags: flags})
		}
	}
	word := units[first:]
	word[0].flags |= mayStart
	word[len(word)-1].flags |= mayEnd
	if lead := indexFunc(word, func(u unit) bool { return !isLeetSymbol(u.r) }); lead > 0 {
		word[lead].flags |= mayStart
	}
	if trail := lastIndexFunc(word, func(u unit) bool { return !isLeetSymbol(u.r) }); trail >= 0 {
		word[trail].flags |= mayEnd
	}
	return units
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

// trie holds the listed words and phrases, spelled as scan spells them with each digit or
// symbol replaced by its first letter, and a gap between the words of a phrase.
type trie struct {
	nodes []node // nodes[0] is the root
	words int
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
	edges := t.nodes[n].edges
	lo, hi := 0, len(edges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid].r < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(edges) && edges[lo].r == r {
		return edges[lo].to
	}
	return 0
}

// add puts one word or phrase, given as scanned units, into the trie.
func (t *trie) add(units []unit) {
	var n int32
	for _, u := range units {
		r := u.r
		if u.flags&literal == 0 {
			letters, _ := leet(r)
			r = letters[0]
		}
		next := t.child(n, r)
		if next == 0 {
			next = int32(len(t.nodes))
			t.nodes = append(t.nodes, node{r: r})
			edges := t.nodes[n].edges
			i := 0
			for i < len(edges) && edges[i].r < r {
				i++
			}
			t.nodes[n].edges = append(edges[:i], append([]edge{{r, next}}, edges[i:]...)...)
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
			letters, n := [2]rune{u.r}, 1
			if u.flags&literal == 0 {
				letters, n = leet(u.r)
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
