package metrics

import (
	"testing"
	"time"
)

// TestMinutesRecordTheFinalCountsOfTheMinuteBefore: events between a node's last record in a
// minute and the minute's end are not lost: the next record carries the minute before again,
// with its final counts, and the gauges it had.
func TestMinutesRecordTheFinalCountsOfTheMinuteBefore(t *testing.T) {
	n := New()
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	n.Sent(start.Add(10*time.Second), 0)
	first := n.minutes(start.Add(20*time.Second), Counts{Connections: 4, Waiting: 2, Sessions: 1})
	if len(first) != 1 || first[0].Messages != 1 || first[0].Connections != 4 || !first[0].At.Equal(start) {
		t.Fatalf("first record = %+v, want minute 12:00 with 1 message and 4 connections", first)
	}
	n.Sent(start.Add(50*time.Second), 0)
	n.Matched(start.Add(59*time.Second), time.Second, 0)
	n.Sent(start.Add(61*time.Second), 0)
	got := n.minutes(start.Add(65*time.Second), Counts{Connections: 6})
	if len(got) != 2 {
		t.Fatalf("record after the minute turned = %+v, want the minute before and this one", got)
	}
	if prev := got[0]; !prev.At.Equal(start) || prev.Messages != 2 || prev.Matches != 1 || prev.Connections != 4 || prev.Waiting != 2 {
		t.Errorf("minute before = %+v, want 12:00 with its final 2 messages and 1 match, and its 4 connections", prev)
	}
	if cur := got[1]; !cur.At.Equal(start.Add(time.Minute)) || cur.Messages != 1 || cur.Matches != 0 || cur.Connections != 6 {
		t.Errorf("this minute = %+v, want 12:01 with 1 message and 6 connections", cur)
	}
	if later := n.minutes(start.Add(5*time.Minute), Counts{}); len(later) != 1 || later[0].Messages != 0 {
		t.Errorf("record after a gap = %+v, want this minute only, empty", later)
	}
}
