package push

import (
	"testing"

	"github.com/duetchat/duet/session"
)

// BenchmarkDecodeRequest measures parsing the frames a busy connection sends most.
func BenchmarkDecodeRequest(b *testing.B) {
	for name, frame := range map[string]string{
		"Dialogue": `{"cmd":"DIALOGUE","requestId":"r12345","sessionId":1234567890123,"content":"hello, how are you doing today? it has been a long week"}`,
		"Match":    `{"cmd":"MATCH_REQ","interests":["music","go"]}`,
		"Pong":     `{"cmd":"PONG"}`,
	} {
		b.Run(name, func(b *testing.B) {
			data := []byte(frame)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var r request
				if err := decodeRequest(data, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeDialogue measures encoding a DIALOGUE's reply and its push: the two frames
// the server writes per message, before the WebSocket framing.
func BenchmarkEncodeDialogue(b *testing.B) {
	m := session.Message{ID: 1234567890123, SessionID: 1234567890000, SenderID: 1234567880000, Content: "hello, how are you doing today? it has been a long week"}
	b.ReportAllocs()
	for b.Loop() {
		reply := replyFrame(cmdDialogue, dialogueReply{RequestID: "r12345", MsgID: m.ID})
		push := pushFrame(session.DialoguePush(m))
		if len(reply.body) == 0 || len(push.body) == 0 || reqDialect.name(push.kind, push.cmd) != "PUSH_DIALOGUE_REQ" {
			b.Fatal("empty frame")
		}
	}
}
