package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns the form of s that the filter matches against: compatibility forms replaced
// (NFKD: full-width, circled, mathematical and ligature letters become plain ones), accents and
// other combining marks removed, letters lower-cased, look-alike letters from other scripts
// (Cyrillic, Greek, Armenian, small capitals, enclosed letters) replaced by the Latin letters they
// imitate, invisible characters (zero-width spaces and joiners, soft hyphens, direction marks,
// variation selectors, control characters, U+FFFD) removed, and every run of white space turned
// into one space, with none at either end.
//
// Normalize is idempotent and its result is valid UTF-8. It keeps digits and symbols as they
// are: reading "4" as "a" or "$" as "s" depends on the word around them, so the word matcher
// does that, and so it does the joining of spaced-out letters ("f u c k").
func Normalize(s string) string {
	folded := appendFoldedString(make([]rune, 0, len(s)), s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range folded {
		if r == caseBreak {
			continue
		}
		if r == ' ' {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// caseBreak is put by appendFoldedString between the words of a camel-case compound ("BigAss",
// "FuckFace"), where a listed word may begin or end. It is not a character: Normalize drops it.
const caseBreak rune = -1

// appendFoldedString appends the folded runes of s to dst (see appendFolded), with a caseBreak
// before each word but the first of a camel-case compound.
func appendFoldedString(dst []rune, s string) []rune {
	var camel camelCase
	prevLower := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for j, r := range s[i:] {
				if prevLower && unicode.IsUpper(r) && camel.at(s, i+j) {
					dst = append(dst, caseBreak)
				}
				prevLower = unicode.IsLower(r)
				dst = appendFolded(dst, r)
			}
			return dst
		}
		if prevLower && 'A' <= c && c <= 'Z' && camel.at(s, i) {
			dst = append(dst, caseBreak)
		}
		prevLower = 'a' <= c && c <= 'z'
		if f := asciiFolded[c]; f >= 0 {
			dst = append(dst, rune(f))
		}
	}
	return dst
}

// camelCase tells whether runs of letters are camel-case compounds, remembering its answer
// for the last run it looked at.
type camelCase struct {
	end int  // where the last run looked at ends
	is  bool // whether it is camel case
}

// at reports whether the run of letters around s[i] is a camel-case compound: every capital is
// followed by a small letter ("BigAss", "iPhone"; not "ClAsS" or "NASA").
func (c *camelCase) at(s string, i int) bool {
	if i < c.end {
		return c.is
	}
	start := i
	for start > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:start])
		if !unicode.IsLetter(r) {
			break
		}
		start -= n
	}
	c.end, c.is = len(s), true
	afterCapital := false
	for j, r := range s[start:] {
		if !unicode.IsLetter(r) {
			c.end = start + j
			break
		}
		if afterCapital && !unicode.IsLower(r) {
			c.is = false
		}
		afterCapital = unicode.IsUpper(r)
	}
	c.is = c.is && !afterCapital
	return c.is
}

// appendFolded appends to dst the runes r folds to: none for an invisible character, one space
// for any white space, and otherwise the lower-case, mark-free, Latin-where-it-looks-Latin
// compatibility decomposition of r. Every rune it appends folds to itself, which is what makes
// Normalize idempotent: each step below either ends the fold or recurses on its output.
func appendFolded(dst []rune, r rune) []rune {
	if r < utf8.RuneSelf {
		if f := asciiFolded[r]; f >= 0 {
			dst = append(dst, rune(f))
		}
		return dst
	}
	switch {
	case unicode.IsSpace(r):
		return append(dst, ' ')
	case isInvisible(r):
		return dst
	case r == 'ß':
		return append(dst, 's', 's')
	}
	if l := lookalike(r); l != 0 {
		return append(dst, l)
	}
	if lower := unicode.ToLower(r); lower != r {
		return appendFolded(dst, lower)
	}
	var buf [utf8.UTFMax]byte
	decomposed := norm.NFKD.Properties(buf[:utf8.EncodeRune(buf[:], r)]).Decomposition()
	if decomposed == nil {
		return append(dst, r)
	}
	for _, d := range string(decomposed) {
		dst = appendFolded(dst, d)
	}
	return dst
}

// asciiFolded is appendFolded for ASCII: upper case to lower case, tab, line feed and the other
// white-space controls to a space, the remaining controls to -1 (removed).
var asciiFolded = func() (t [utf8.RuneSelf]int8) {
	for c := range t {
		switch {
		case 'A' <= c && c <= 'Z':
			t[c] = int8(c - 'A' + 'a')
		case c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
			t[c] = ' '
		case c < ' ' || c == 0x7f:
			t[c] = -1
		default:
			t[c] = int8(c)
		}
	}
	return t
}()

// invisibleTables are the characters that take no visible space of their own, so that they can
// be slipped into a word without changing how it looks: combining and enclosing marks, format
// characters (zero-width space, joiners, direction marks, soft hyphen, byte order mark), control
// characters, variation selectors and the other default-ignorable code points (Hangul fillers).
var invisibleTables = []*unicode.RangeTable{
	unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc,
	unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point,
}

func isInvisible(r rune) bool {
	return r == utf8.RuneError || r == brailleBlank || unicode.IsOneOf(invisibleTables, r)
}

// brailleBlank is a symbol, not white space, yet it shows as an empty cell.
const brailleBlank = '\u2800'

// lookalike returns the lower-case Latin letter that r imitates, or 0.
func lookalike(r rune) rune {
	switch {
	case 0x1F1E6 <= r && r <= 0x1F1FF: // regional indicator symbols, the letters of flag emoji
		return 'a' + r - 0x1F1E6
	case 0x1F150 <= r && r <= 0x1F169: // negative circled capital letters
		return 'a' + r - 0x1F150
	case 0x1F170 <= r && r <= 0x1F189: // negative squared capital letters
		return 'a' + r - 0x1F170
	}
	return lookalikes[r]
}

// lookalikes maps letters of other scripts, and Latin letters that no decomposition reaches, to
// the Latin letter they are drawn like. Capitals are listed where the capital and the small
// letter imitate different Latin letters (Greek Η is H, η is n).
var lookalikes = func() map[rune]rune {
	const pairs = "" +
		// Greek capitals, then small letters
		"ΑaΒbΕeΖzΗhΙiΚkΜmΝnΟoΡpΤtΥyΧx" +
		"αaβbγyεeηnιiκkμuνvοoρpτtυuχxωwϲcϳj" +
		// Cyrillic capitals, then small letters
		"АaВbЕeЅsІiЈjКkМmНhОoРpСcТtУyХxҮyЬbԚqԜw" +
		"аaвbеeѕsіiјjкkмmнhоoрpсcтtуyхxүyьbԁdԛqԝwһhӏlѵv" +
		// Armenian
		"ՕoՍuօoսuհhոnցg" +
		// Latin letters with a stroke or without a dot, and IPA letters
		"ıiȷjøođdħhłlŧtƀbɑaɡgɩiɪiʟl" +
		// small capitals
		"ᴀaʙbᴄcᴅdᴇeꜰfɢgʜhᴊjᴋkᴍmɴnᴏoᴘpʀrꜱsᴛtᴜuᴠvᴡwʏyᴢz"
	m := make(map[rune]rune)
	var from rune
	for i, r := range []rune(pairs) {
		if i%2 == 0 {
			from = r
		} else {
			m[from] = r
		}
	}
	return m
}()
