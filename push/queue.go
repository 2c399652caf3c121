package push

// frameOverhead is what the writer adds to a frame's command and body: the braces, quotes and
// field name around the command, and the WebSocket header.
const frameOverhead = 24

// size is about how many bytes the frame takes on the wire.
func (f frame) size() int { return len(f.cmd) + len(f.body) + frameOverhead }

// sendQueue holds the frames waiting for a connection's writer, in order, and their size. A
// client is judged slow by what its queue costs, in bytes, never by how many frames a burst
// put in it: a client draining a burst of small frames is not slow.
type sendQueue struct {
	frames []frame
	bytes  int
}

// full reports whether f would take the queue over limit bytes. An empty queue takes any
// frame, however large: a client cannot be behind on nothing.
func (q *sendQueue) full(f frame, limit int) bool {
	return q.bytes > 0 && q.bytes+f.size() > limit
}

func (q *sendQueue) push(f frame) {
	q.frames = append(q.frames, f)
	q.bytes += f.size()
}

// pushFront puts frames back in front of the queue, in order.
func (q *sendQueue) pushFront(frames []frame) {
	for _, f := range frames {
		q.bytes += f.size()
	}
	q.frames = append(frames[:len(frames):len(frames)], q.frames...)
}

// take empties the queue and returns what it held.
func (q *sendQueue) take() []frame {
	frames := q.frames
	q.frames, q.bytes = nil, 0
	return frames
}
