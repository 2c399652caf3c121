package filter

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// benchMessage is a 200-byte chat message without a listed word or a link.
const benchMessage = "hey! so I finally watched that movie you told me about last week, honestly " +
	"the ending was kind of weird but I liked it... what are you doing this weekend? " +
	"maybe we could talk about books and music? :)"

// benchWords returns a word list of n made-up words and phrases, spelled with letters in about
// the frequency of English so that they share beginnings with the words of benchMessage.
func benchWords(n int) []string {
	const letters = "etaoinshrdlcumwfgypbvkjxqz"
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range 3 + rng.IntN(7) {
			b.WriteByte(letters[min(rng.IntN(len(letters)), rng.IntN(len(letters)))])
		}
		return b.String()
	}
	words := make([]string, n)
	for i := range words {
		words[i] = word()
		if i%20 == 0 {
			words[i] += " " + word()
		}
	}
	return words
}

func BenchmarkMessage(b *testing.B) {
	if len(benchMessage) != 200 {
		b.Fatalf("benchMessage is %d bytes, want 200", len(benchMessage))
	}
	for _, bc := range []struct {
		name string
		opt  Options
	}{
		{"words", Options{LinksAfter: 0}},
		{"words and links", Options{LinksAfter: -1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bc.opt.WordsFile = writeWords(b, benchWords(1000)...)
			f := newFilter(b, bc.opt)
			if err := f.Message(benchMessage, Sent(0)); err != nil {
				b.Fatalf("Message(benchMessage) = %v", err)
			}
			b.SetBytes(int64(len(benchMessage)))
			b.ReportAllocs()
			for b.Loop() {
				_ = f.Message(benchMessage, Sent(0))
			}
		})
	}
}

// BenchmarkMessageWorstCase checks a long message of spaced-out letters, where a listed word may
// begin at every letter, against a list of words made of those letters.
func BenchmarkMessageWorstCase(b *testing.B) {
	words := make([]string, 0, 100)
	for i := range 100 {
		words = append(words, strings.Repeat("ab", 1+i%10)+string(rune('c'+i%20)))
	}
	f := newFilter(b, Options{WordsFile: writeWords(b, words...), LinksAfter: -1})
	text := strings.Repeat("a b ", 500)
	if n := utf8.RuneCountInString(text); n != 2000 {
		b.Fatalf("the message is %d characters, want 2000", n)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		_ = f.Message(text, Sent(0))
	}
}

func BenchmarkNormalize(b *testing.B) {
	b.SetBytes(int64(len(benchMessage)))
	b.ReportAllocs()
	for b.Loop() {
		Normalize(benchMessage)
	}
}
