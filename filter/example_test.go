package filter_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/duetchat/duet/filter"
)

// A site that refuses one word, and links in a sender's first three messages of a chat.
func Example() {
	dir, err := os.MkdirTemp("", "filter-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	words := filepath.Join(dir, "words.txt")
	if err := os.WriteFile(words, []byte("# one word or phrase per line\nbadword\n"), 0o644); err != nil {
		panic(err)
	}

	f, err := filter.New(filter.Options{WordsFile: words, LinksAfter: 3})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go f.Watch(ctx, 5*time.Second, slog.Default()) // reload the list when it is edited

	fmt.Println(f.Message("hello there", filter.Sent(0)))
	fmt.Println(f.Message("what a B4DW0RD!", filter.Sent(7)))
	fmt.Println(f.Message("what a b a d w o r d", filter.Sent(7)))
	fmt.Println(f.Message("see example dot com", filter.Sent(0)))
	fmt.Println(f.Message("see example dot com", filter.Sent(3)))
	fmt.Println(f.Nickname("b.a.d.w.o.r.d"))
	// Output:
	// <nil>
	// code 1: message not sent: it contains a word this site does not allow
	// code 1: message not sent: it contains a word this site does not allow
	// code 1: message not sent: links are not allowed in your first 3 messages of a chat
	// <nil>
	// code 1: nickname not allowed: it contains a word this site does not allow
}
