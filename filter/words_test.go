package filter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duetchat/duet"
)

// testWords is the word list of the matching tests.
var testWords = []string{
	"# words this test site does not allow",
	"ass",
	"fuck",
	"shit",
	"",
	"kill yourself",
	"сука", // Cyrillic, to show that other scripts are matched too
	"88",   // a number, matched as a number
	"马鹿",   // Chinese, written without spaces
	"ควาย", // Thai, written without spaces
}

// writeWords writes a word list with lines to a new file and returns its path.
func writeWords(tb testing.TB, lines ...string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "words.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func newFilter(tb testing.TB, o Options) *Filter {
	tb.Helper()
	f, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

const wordRefusal = "message not sent: it contains a word this site does not allow"

func TestMessageRefusesListedWordsHoweverSpelled(t *testing.T) {
	f := newFilter(t, Options{WordsFile: writeWords(t, testWords...)})
	for name, text := range map[string]string{
		"plain":                    "you ass",
		"capitals":                 "YOU ASS",
		"at the start":             "ass, you are",
		"between punctuation":      "(ass)",
		"trailing exclamation":     "you ass!!!",
		"quoted":                   "'ass'",
		"at sign":                  "you @ss",
		"dollar signs":             "a$$",
		"digits for letters":       "4ss",
		"leet shit":                "5h1t",
		"leading dollar":           "$hit happens",
		"pipe for i":               "sh|t",
		"exclamation for i":        "sh!t",
		"spaced out":               "a s s",
		"dotted":                   "f.u.c.k",
		"dashed":                   "f-u-c-k",
		"underscored":              "f_u_c_k",
		"starred and spaced":       "f * u * c * k you",
		"spaced out in a sentence": "well f u c k that",
		"repeated letters":         "fuuuuuck",
		"repeated at both ends":    "ffffuckkkk",
		"repeated and leet":        "a$$$$",
		"zero-width space":         "fu\u200bck",
		"zero-width joiner":        "fu\u200dck",
		"soft hyphen":              "fu\u00adck",
		"byte order mark":          "\ufefffuck",
		"word joiner":              "sh\u2060it",
		"accents":                  "fúçk",
		"combining marks":          "fu\u0301c\u0327k",
		"full width":               "ｆｕｃｋ",
		"mathematical bold":        "𝐟𝐮𝐜𝐤",
		"circled":                  "ⓕⓤⓒⓚ",
		"parenthesized":            "⒡⒰⒞⒦",
		"small capitals":           "ꜰᴜᴄᴋ",
		"regional indicators":      "🇫🇺🇨🇰",
		"Cyrillic look-alikes":     "аss",
		"Greek look-alikes":        "ΑSS",
		"Cyrillic word":            "ты сука",
		"Cyrillic word in Latin":   "cyka",
		"phrase":                   "just kill yourself",
		"phrase with punctuation":  "kill... yourself",
		"phrase run together":      "killyourself",
		"phrase in leet":           "k1ll y0urs3lf",
		"phrase with a line break": "kill\nyourself",
		"number":                   "88",
		"apostrophe in the word":   "sh'it",
		"Chinese in a sentence":    "你是马鹿吗",
		"Chinese after Latin":      "ok马鹿",
		"Thai in a sentence":       "คุณเป็นควายหรือ",
		"Latin before Chinese":     "ass你好",
		"camel-case compound":      "you BigAss",
		"camel-case first word":    "FuckFace",
		"camel-case phrase":        "KillYourself",
		"camel-case Cyrillic":      "ТыСука",
		"invalid UTF-8 inside":     "fu\xffck",
		"everything at once":       "ｆ\u200b.υ . c.\u00adＫ",
		"all symbols and digits":   "$h!7",
		"nickname style":           "xXx_Sh1t_xXx",
	} {
		t.Run(name, func(t *testing.T) {
			err := f.Message(text, Sent(100))
			if got := duet.ErrorCode(err); got != duet.ParamErr {
				t.Fatalf("Message(%q) code = %d, want %d (ParamErr); err = %v", text, got, duet.ParamErr, err)
			}
			if got := duet.ErrorMessage(err); got != wordRefusal {
				t.Errorf("Message(%q) says %q, want %q", text, got, wordRefusal)
			}
		})
	}
}

func TestMessageAllowsInnocentWords(t *testing.T) {
	f := newFilter(t, Options{WordsFile: writeWords(t, testWords...)})
	for name, text := range map[string]string{
		"class":                   "I'm in class",
		"assignment":              "the assignment is due",
		"passage":                 "read this passage",
		"assassin":                "an assassin",
		"bass":                    "I play bass",
		"as":                      "as you say",
		"as s":                    "as soon as possible",
		"Scunthorpe":              "I live in Scunthorpe",
		"shitake":                 "shiitake mushrooms",
		"cocktail":                "a cocktail",
		"asses is another word":   "asses", // plurals are listed separately
		"numbers":                 "call me at 455 or 4 55",
		"number with 88 inside":   "1988",
		"spaced letters no word":  "a b c d",
		"an initial and a word":   "I am a sassy person",
		"kill alone":              "kill the lights",
		"yourself alone":          "be yourself",
		"phrase split by a word":  "kill it yourself",
		"fuck split in two words": "fu ck",
		"Cyrillic other word":     "сумка",
		"empty":                   "",
		"white space":             " \t\n",
		"emoji":                   "😀👍",
		"Chinese":                 "你好",
		"Chinese half of a word":  "马上",
		"camel case":              "ClassAct iPhone McDonald",
		"alternating case":        "ClAsS",
		"capitals":                "CLASS ASSIGNMENT",
		"compound":                "bigass", // one word, not the listed one
	} {
		t.Run(name, func(t *testing.T) {
			if err := f.Message(text, Sent(100)); err != nil {
				t.Errorf("Message(%q) = %v, want nil", text, err)
			}
		})
	}
}

func TestMessageWithoutWordList(t *testing.T) {
	f := newFilter(t, Options{})
	if err := f.Message("fuck", Sent(0)); err != nil {
		t.Errorf("Message with no word list = %v, want nil", err)
	}
	if got := f.Words(); got != 0 {
		t.Errorf("Words() = %d, want 0", got)
	}
}

func TestWordListEntriesAreNormalized(t *testing.T) {
	f := newFilter(t, Options{WordsFile: writeWords(t,
		"  ＢＡＤ ",     // full width, white space around
		"w0rd",       // leet in the list itself
		"two  words", // two spaces
		"\ufeffbom",  // a byte order mark
		"bad",        // a repeat of the first
	)})
	if got, want := f.Words(), 4; got != want {
		t.Errorf("Words() = %d, want %d", got, want)
	}
	for _, text := range []string{"bad", "word", "w0rd", "two words", "bom"} {
		if err := f.Message(text, Sent(100)); err == nil {
			t.Errorf("Message(%q) = nil, want it refused", text)
		}
	}
}
