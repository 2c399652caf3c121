package filter

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duetchat/duet"
)

func TestNewRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.txt")
	badUTF8 := filepath.Join(dir, "bad-utf8.txt")
	if err := os.WriteFile(badUTF8, []byte("# list\nfine\n\xff\xfe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noLetters := filepath.Join(dir, "no-letters.txt")
	if err := os.WriteFile(noLetters, []byte("fine\n\n  ...  \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		opt  Options
		want []string // parts of the error
	}{
		"missing file":     {Options{WordsFile: missing}, []string{missing, "no such file"}},
		"a directory":      {Options{WordsFile: dir}, []string{dir}},
		"invalid UTF-8":    {Options{WordsFile: badUTF8}, []string{badUTF8 + ":3:", "not valid UTF-8"}},
		"nothing to match": {Options{WordsFile: noLetters}, []string{noLetters + ":3:", `"..."`, "no letters or digits"}},
		"LinksAfter -2":    {Options{LinksAfter: -2}, []string{"LinksAfter", "got -2"}},
	} {
		t.Run(name, func(t *testing.T) {
			f, err := New(tc.opt)
			if err == nil {
				t.Fatalf("New(%+v) = %v, nil; want an error", tc.opt, f)
			}
			for _, part := range tc.want {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("New(%+v) error %q does not say %q", tc.opt, err, part)
				}
			}
		})
	}
}

func TestNickname(t *testing.T) {
	// Links are allowed in messages here, but never in nicknames.
	f := newFilter(t, Options{WordsFile: writeWords(t, testWords...), LinksAfter: 0})
	for name, tc := range map[string]struct{ nickname, want string }{
		"plain":        {"Ann", ""},
		"innocent":     {"Classy Cassandra", ""},
		"with a dot":   {"J.R.", ""},
		"camel case":   {"McDonaldFan", ""},
		"compound":     {"bigass", ""}, // one word, not the listed one
		"word apart":   {"big ass", "nickname not allowed: it contains a word this site does not allow"},
		"camel word":   {"BigAss", "nickname not allowed: it contains a word this site does not allow"},
		"word in leet": {"Sh1t_Lord", "nickname not allowed: it contains a word this site does not allow"},
		"domain":       {"spam.com", "nickname not allowed: it looks like a link, and nicknames cannot contain links"},
		"masked link":  {"spam dot com", "nickname not allowed: it looks like a link, and nicknames cannot contain links"},
	} {
		t.Run(name, func(t *testing.T) {
			err := f.Nickname(tc.nickname)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Nickname(%q) = %v, want nil", tc.nickname, err)
				}
				return
			}
			if got := duet.ErrorCode(err); got != duet.ParamErr {
				t.Fatalf("Nickname(%q) code = %d, want %d (ParamErr); err = %v", tc.nickname, got, duet.ParamErr, err)
			}
			if got := duet.ErrorMessage(err); got != tc.want {
				t.Errorf("Nickname(%q) says %q, want %q", tc.nickname, got, tc.want)
			}
		})
	}
}

func TestRefusalsNeverRepeatTheWord(t *testing.T) {
	f := newFilter(t, Options{WordsFile: writeWords(t, "bluecheese"), LinksAfter: -1})
	for _, text := range []string{"bluecheese", "BLUECHEESE example.com"} {
		for _, err := range []error{f.Message(text, Sent(0)), f.Nickname(text)} {
			if err == nil {
				t.Fatalf("%q was not refused", text)
			}
			if msg := strings.ToLower(duet.ErrorMessage(err)); strings.Contains(msg, "cheese") || strings.Contains(msg, "example") {
				t.Errorf("refusal of %q repeats it: %q", text, msg)
			}
		}
	}
}

func TestReloadUsesTheNewListAndKeepsTheOldOnError(t *testing.T) {
	path := writeWords(t, "apple")
	f := newFilter(t, Options{WordsFile: path})
	if f.Message("apple", Sent(0)) == nil || f.Message("banana", Sent(0)) != nil {
		t.Fatal("the first list is not in use")
	}

	writeFile(t, path, "banana\n")
	if err := f.Reload(); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	if f.Message("apple", Sent(0)) != nil || f.Message("banana", Sent(0)) == nil {
		t.Error("after Reload, the new list is not in use")
	}

	writeFile(t, path, "cherry\n...\n")
	if err := f.Reload(); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("Reload() of a bad list = %v, want an error naming %s:2", err, path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := f.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Reload() of a missing list = %v, want an error naming %s", err, path)
	}
	if f.Message("banana", Sent(0)) == nil || f.Message("cherry", Sent(0)) != nil {
		t.Error("after failed reloads, the last good list is not in use")
	}
}

func TestWatchReloadsWhenTheFileChanges(t *testing.T) {
	path := writeWords(t, "apple")
	f := newFilter(t, Options{WordsFile: path})
	logs := &logRecorder{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.Watch(ctx, time.Millisecond, slog.New(logs)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch() = %v, want nil once ctx ends", err)
		}
	}()

	writeFile(t, path, "apple\nbanana\n")
	eventually(t, "banana refused", func() bool { return f.Message("banana", Sent(0)) != nil })
	eventually(t, "the reload logged", func() bool { return logs.has(slog.LevelInfo, "word list reloaded") })

	writeFile(t, path, "apple\nbanana\n...\n")
	eventually(t, "the bad list logged", func() bool { return logs.has(slog.LevelError, path+":3:") })
	if f.Message("banana", Sent(0)) == nil {
		t.Error("after a bad list, the last good one is not in use")
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the missing file logged", func() bool { return logs.has(slog.LevelError, "no such file") })

	writeFile(t, path, "cherry\n")
	eventually(t, "cherry refused", func() bool { return f.Message("cherry", Sent(0)) != nil })
	if f.Message("banana", Sent(0)) != nil {
		t.Error("a word of the replaced list is still refused")
	}
	if n := logs.count(path + ":3:"); n != 1 {
		t.Errorf("the bad list was logged %d times, want once", n)
	}
}

func TestWatchWithoutAListOrInterval(t *testing.T) {
	log := slog.New(&logRecorder{})
	if err := newFilter(t, Options{}).Watch(t.Context(), time.Second, log); err != nil {
		t.Errorf("Watch() without a list = %v, want nil at once", err)
	}
	f := newFilter(t, Options{WordsFile: writeWords(t, "apple")})
	if err := f.Watch(t.Context(), 0, log); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("Watch() every 0s = %v, want an error", err)
	}
}

// TestConcurrentChecksAndReloads runs checks while the list is reloaded, for the race detector,
// and checks that each check sees one whole list: never both words, never neither.
func TestConcurrentChecksAndReloads(t *testing.T) {
	path := writeWords(t, "apple")
	f := newFilter(t, Options{WordsFile: path, LinksAfter: 3})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				apple, banana := f.Message("apple", Sent(0)) != nil, f.Nickname("banana") != nil
				if f.Message("apple banana", Sent(0)) == nil {
					t.Errorf("a message with both words passed (apple refused alone: %v, banana: %v)", apple, banana)
					return
				}
			}
		})
	}
	for i := range 50 {
		writeFile(t, path, []string{"apple\n", "banana\n"}[i%2])
		if err := f.Reload(); err != nil {
			t.Error(err)
		}
	}
	cancel()
	wg.Wait()
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// eventually waits for cond, failing the test if it does not come true within ten seconds.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
	}
}

// logRecorder is a slog.Handler that keeps each record as its level and text.
type logRecorder struct {
	mu    sync.Mutex // guards lines
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += fmt.Sprintf(" %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	return nil
}

func (l *logRecorder) has(level slog.Level, part string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.HasPrefix(line, level.String()+" ") && strings.Contains(line, part) {
			return true
		}
	}
	return false
}

func (l *logRecorder) count(part string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, part) {
			n++
		}
	}
	return n
}
