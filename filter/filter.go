// Package filter is Duet's content filter: it refuses chat messages and nicknames that contain
// a word from the site's word list or a link where links are not allowed.
//
// # What is matched
//
// Text is first put in a normal form (see Normalize): compatibility forms, accents, case,
// invisible characters and look-alike letters of other scripts make no difference, so "ＦＵＣＫ",
// "fúck", "fu\u200bck" and Cyrillic "аss" read as their plain Latin spelling. On top of that the
// word matcher reads digits and symbols inside a word as the letters they stand for (0→o, 1→i or
// l, 2→z, 3→e, 4→a, 5→s, 6→b or g, 7→t, 8→b, 9→g, @→a, $→s, !→i, |→i or l), but a number on its
// own stays a number; it lets a letter repeat ("fuuuck"); it drops apostrophes ("don't"); it
// joins letters typed one at a time with up to three separators between them ("f u c k",
// "f.u.c.k", "f-u-c-k", "f_u_c_k"); and it reads the capitals of a camel-case compound as the
// starts of words ("BigAss": every capital followed by a small letter, so not "ClAsS").
//
// A listed word matches whole words only: with "ass" listed, "@ss", "a s s", "a$$!" and
// "BigAss" are refused but "class", "assignment", "passage" and "bigass" are not. A listed phrase
// matches its words in order with any separators between them, or none ("kill yourself",
// "kill... yourself", "killyourself"). Plurals and other forms are different words: list each
// form to refuse. A word split in two ("fu ck") is two words. In scripts written without spaces
// (Chinese, Japanese, Thai, Lao, Khmer, Burmese) a word may begin and end at any character, so a
// listed word of those scripts matches anywhere.
//
// # The word list
//
// Options.WordsFile names a UTF-8 text file with one word or phrase per line. Surrounding white
// space is ignored, and so are blank lines and lines that begin with '#'. Write entries plainly
// ("ass", not "a$$"): the spellings above are matched for you. A line that has no letter or digit
// is an error naming the file and the line.
//
// # Links
//
// A link is a URL with a scheme ("https://…", "hxxp://…"), a domain name ("example.com",
// "www.example", "bit.ly/x", "me@example.org") or an IP address ("192.0.2.1", "2001:db8::1"),
// also when written to dodge a filter: "example[.]com", "example (.) com", "example(dot)com",
// "example dot com", "example . com", "example·com", "e x a m p l e . c o m", "ехample.com" in
// Cyrillic, "example.c0m". A plain or masked dot counts with any top-level domain of the public suffix
// list; a spaced dot or the word "dot" counts only with a common top-level domain that is not
// also an English word ("com", "net", "ru", "xyz"…), so "a dot in the sky" is text, though "the
// dot com bubble" is not. Text that merely has dots is not a link: "ok...sure", "3.14", "e.g.",
// "Mr. Smith", "file.txt". A file name whose extension is also a top-level domain ("main.py",
// "README.md", "movie.mov") does read as a link: it is one.
//
// Options.LinksAfter sets the policy for messages: links are refused in a sender's first
// LinksAfter messages of a session, which is where spam bots put them, and allowed after; 0
// allows links always and -1 never. Nicknames never contain links.
//
// # Refusals
//
// Message and Nickname return nil or a *duet.Error with code ParamErr (1) and a sentence for
// the person who typed the text, which never repeats the offending word or link:
//
//	message not sent: it contains a word this site does not allow
//	message not sent: links are not allowed in your first 3 messages of a chat
//	message not sent: links are not allowed in chats
//	nickname not allowed: it contains a word this site does not allow
//	nickname not allowed: it looks like a link, and nicknames cannot contain links
//
// # Reloading
//
// Reload reads the word list again, and Watch calls it when the file's modification time or size
// changes and then stays the same for one interval. A list that fails to load leaves the rules in
// use as they were. A Filter is safe for concurrent use: every check sees one whole set of rules,
// old or new.
package filter

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duetchat/duet"
)

// Options are the filter's rules.
type Options struct {
	// WordsFile is the path of the word list; "" for none.
	WordsFile string
	// LinksAfter is how many messages a sender must have sent in a session before a message of
	// theirs may contain a link; 0 allows links always, -1 never.
	LinksAfter int
}

// Filter checks messages and nicknames against the word list and the link policy. A nil
// *Filter allows everything.
type Filter struct {
	opt       Options
	linksMsg  string    // why a message with a link is refused
	scratches sync.Pool // of *scratch

	// reloadMu serializes reloads, so that a slow reading of the file never replaces a newer one.
	reloadMu sync.Mutex
	// words is the word list in use, swapped whole by a reload; never nil.
	words atomic.Pointer[wordList]
}

// wordList is one reading of the word list.
type wordList struct {
	trie *trie    // nil for no list
	file fileInfo // the file's state when it was read
}

// fileInfo is what Watch compares to notice that the word list changed.
type fileInfo struct {
	modTime int64 // Unix nanoseconds
	size    int64
	err     string // why the file could not be examined, if it could not
}

// scratch is the working memory of one check, reused through a pool so that checking a message
// does not allocate.
type scratch struct {
	runes  []rune
	units  []unit
	tokens []token
	states []int32
	next   []int32
	labels []label
	joined []rune
}

// New returns a Filter with the rules of o, reading the word list.
func New(o Options) (*Filter, error) {
	if o.LinksAfter < -1 {
		return nil, fmt.Errorf("filter: LinksAfter must be -1 (links never allowed), 0 (always allowed) or a number of messages, got %d", o.LinksAfter)
	}
	f := &Filter{opt: o, linksMsg: linksRefusal(o.LinksAfter)}
	f.scratches.New = func() any { return new(scratch) }
	w, err := f.readWords()
	if err != nil {
		return nil, err
	}
	f.words.Store(w)
	return f, nil
}

func linksRefusal(after int) string {
	switch after {
	case -1:
		return "message not sent: links are not allowed in chats"
	case 1:
		return "message not sent: links are not allowed in your first message of a chat"
	}
	return fmt.Sprintf("message not sent: links are not allowed in your first %d messages of a chat", after)
}

// Message checks the text of a chat message. sentBefore tells how many messages its sender
// already sent in the session; it is asked only for a message with a link under a policy that
// depends on it, since counting may cost the caller a read, and its error is returned as is.
// Otherwise Message returns a *duet.Error with code ParamErr that says why, without the
// offending word, if the message must not be sent.
func (f *Filter) Message(text string, sentBefore func() (int, error)) error {
	if f == nil {
		return nil
	}
	s := f.scratches.Get().(*scratch)
	defer f.scratches.Put(s)
	s.runes = appendFoldedString(s.runes[:0], text)
	switch {
	case f.hasListedWord(s):
		return &duet.Error{Code: duet.ParamErr, Msg: "message not sent: it contains a word this site does not allow"}
	case f.opt.LinksAfter == 0 || !hasLink(s.runes, s):
		return nil
	case f.opt.LinksAfter > 0:
		n, err := sentBefore()
		if err != nil || n >= f.opt.LinksAfter {
			return err
		}
	}
	return &duet.Error{Code: duet.ParamErr, Msg: f.linksMsg}
}

// Sent is a sentBefore for Message when the count is known: n.
func Sent(n int) func() (int, error) {
	return func() (int, error) { return n, nil }
}

// Nickname checks a nickname. It returns a *duet.Error with code ParamErr that says why, without
// the offending word, if the nickname must not be used.
func (f *Filter) Nickname(name string) error {
	if f == nil {
		return nil
	}
	s := f.scratches.Get().(*scratch)
	defer f.scratches.Put(s)
	s.runes = appendFoldedString(s.runes[:0], name)
	switch {
	case f.hasListedWord(s):
		return &duet.Error{Code: duet.ParamErr, Msg: "nickname not allowed: it contains a word this site does not allow"}
	case hasLink(s.runes, s):
		return &duet.Error{Code: duet.ParamErr, Msg: "nickname not allowed: it looks like a link, and nicknames cannot contain links"}
	}
	return nil
}

// hasListedWord reports whether the folded text in s.runes contains a word of the list.
func (f *Filter) hasListedWord(s *scratch) bool {
	t := f.words.Load().trie
	if t == nil {
		return false
	}
	s.units, s.tokens = scan(s.runes, s.units[:0], s.tokens)
	return t.match(s.units, s)
}

// Words returns how many distinct words and phrases the word list in use has.
func (f *Filter) Words() int {
	if t := f.words.Load().trie; t != nil {
		return t.words
	}
	return 0
}

// Reload reads the word list again and uses it from now on. If it cannot be read or has an
// error, Reload returns the error and the rules stay as they were.
func (f *Filter) Reload() error {
	f.reloadMu.Lock()
	defer f.reloadMu.Unlock()
	w, err := f.readWords()
	if err != nil {
		return err
	}
	f.words.Store(w)
	return nil
}

// readWords reads and parses the word list.
func (f *Filter) readWords() (*wordList, error) {
	path := f.opt.WordsFile
	if path == "" {
		return &wordList{}, nil
	}
	// The file is examined before it is read: a change made while it is read is noticed later.
	info := examine(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("filter: reading the word list: %w", err)
	}
	t, err := parseWords(path, data)
	if err != nil {
		return nil, err
	}
	return &wordList{trie: t, file: info}, nil
}

func examine(path string) fileInfo {
	st, err := os.Stat(path)
	if err != nil {
		return fileInfo{err: err.Error()}
	}
	return fileInfo{modTime: st.ModTime().UnixNano(), size: st.Size()}
}

// Watch reloads the word list when its modification time or size changes, looking every
// interval, until ctx ends. It waits for the file to stay the same for one interval before it
// reads it, so that a file still being written is not read half-way. It logs each reload, and
// each failure once; after a failure the rules stay as they were until the file loads again.
// Without a word list it returns at once.
func (f *Filter) Watch(ctx context.Context, every time.Duration, log *slog.Logger) error {
	path := f.opt.WordsFile
	if path == "" {
		return nil
	}
	if every <= 0 {
		return fmt.Errorf("filter: the word list's watch interval must be positive, got %v", every)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	handled := f.words.Load().file // the state of the file last loaded or reported
	previous := handled            // the state seen one interval ago
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := examine(path)
		settled := now == previous
		previous = now
		if !settled || now == handled {
			continue
		}
		handled = now
		if now.err != "" {
			log.Error("filter: cannot read the word list; keeping the rules in use", "path", path, "err", now.err)
			continue
		}
		if err := f.Reload(); err != nil {
			log.Error("filter: the word list did not load; keeping the rules in use", "path", path, "err", err)
			continue
		}
		log.Info("filter: word list reloaded", "path", path, "words", f.Words())
	}
}
