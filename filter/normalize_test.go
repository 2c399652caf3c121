package filter

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello World", "hello world"},
		{"  spaces\t\tand\nlines  ", "spaces and lines"},
		{"no\u00a0break\u3000ideographic", "no break ideographic"},
		{"ＦＵＬＬ ｗｉｄｔｈ", "full width"},
		{"café naïve Ångström", "cafe naive angstrom"},
		{"e\u0301", "e"},
		{"𝐁𝐨𝐥𝐝 𝕯𝖔𝖚𝖇𝖑𝖊", "bold double"},
		{"ⓒⓘⓡⓒⓛⓔⓓ", "circled"},
		{"ﬁnd ﬀ", "find ff"},
		{"x²", "x2"},
		{"Straße ẞ", "strasse ss"},
		{"zero\u200bwidth\u200c\u200d\u2060\ufeff", "zerowidth"},
		{"soft\u00adhyphen", "softhyphen"},
		{"bidi\u202eevil\u202c", "bidievil"},
		{"variation\ufe0f", "variation"},
		{"hangul\u3164filler", "hangulfiller"},
		{"braille\u2800blank", "brailleblank"},
		{"control\x00\x07chars", "controlchars"},
		{"bad\xffbyte", "badbyte"},
		{"Сука Привет", "cyka пpиbet"}, // Cyrillic letters that look Latin become Latin, п and и stay
		{"ΗΕΛΛΟ", "heλλo"},             // Greek capitals Η and Ε look like H and E; Λ does not
		{"ηεll", "nell"},               // small η looks like n
		{"ıstanbul", "istanbul"},
		{"ᴄᴀᴘs", "caps"},
		{"🇺🇸 🅰🅱", "us ab"},
		{"1337 @$!", "1337 @$!"}, // digits and symbols are for the word matcher to read
		{"", ""},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestFoldingEveryRuneIsStable checks the property that makes Normalize idempotent, for every
// code point: what a rune folds to folds to itself, and is neither invisible nor white space
// other than a plain space.
func TestFoldingEveryRuneIsStable(t *testing.T) {
	var once, twice []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		once = appendFolded(once[:0], r)
		for _, f := range once {
			twice = appendFolded(twice[:0], f)
			if len(twice) != 1 || twice[0] != f {
				t.Fatalf("%U folds to %U, which folds to %U", r, once, twice)
			}
			if visiblyNothing(f) {
				t.Fatalf("%U folds to %U, which is invisible", r, once)
			}
		}
	}
}

// visiblyNothing reports whether r, found in a Normalize result, would let a word hide: it is
// an invisible character or a kind of white space other than a plain space. It is written apart
// from the code under test.
func visiblyNothing(r rune) bool {
	return r != ' ' && (unicode.IsSpace(r) || unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Cc,
		unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) ||
		r == '\u200b' || r == '\u00ad' || r == '\ufeff' || r == '\u2060' || r == utf8.RuneError)
}
