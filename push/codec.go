package push

import (
	stdjson "encoding/json"
	"errors"
	"strings"

	"github.com/segmentio/encoding/json"

	"github.com/duetchat/duet/challenge"
)

// dialect is the command naming a connection speaks, fixed by its first frame.
type dialect uint8

const (
	seedDialect dialect = iota // X answered by X, pushes Y, heartbeat PING/PONG
	reqDialect                 // X_REQ answered by X_RESP, pushes Y_REQ, heartbeat PING_REQ/PING_RESP
)

// kind says how a frame the server writes is named in each dialect.
type kind uint8

const (
	kindReply kind = iota // the answer to a request
	kindPush              // a frame the server starts
	kindError             // ERROR, in both dialects
)

// name returns the command of a frame of kind k and base command cmd in dialect d.
func (d dialect) name(k kind, cmd string) string {
	switch {
	case k == kindError:
		return cmdError
	case d == seedDialect && k == kindReply && cmd == cmdPing:
		return cmdPong
	case d == seedDialect:
		return cmd
	case k == kindReply:
		return cmd + "_RESP"
	default:
		return cmd + "_REQ"
	}
}

// dialectOf returns the dialect that a connection whose first command is cmd speaks.
func dialectOf(cmd string) dialect {
	if strings.HasSuffix(cmd, "_REQ") || strings.HasSuffix(cmd, "_RESP") {
		return reqDialect
	}
	return seedDialect
}

// baseCommand strips a command of its dialect: "MATCH_REQ" is MATCH, "PING_RESP" (the answer to
// a server heartbeat) is PONG. answer reports a _RESP, which answers a server push.
func baseCommand(cmd string) (base string, answer bool) {
	if b, ok := strings.CutSuffix(cmd, "_REQ"); ok {
		return b, false
	}
	if b, ok := strings.CutSuffix(cmd, "_RESP"); ok {
		if b == cmdPing {
			return cmdPong, true
		}
		return b, true
	}
	return cmd, false
}

// The commands of the protocol, by base name.
const (
	cmdCreateAccount = "CRT_ACCOUNT"
	cmdMatch         = "MATCH"
	cmdCancelMatch   = "CANCEL_MATCH"
	cmdDialogue      = "DIALOGUE"
	cmdViewedAck     = "VIEWED_ACK"
	cmdDeliveredAck  = "DELIVERED_ACK"
	cmdPing          = "PING"
	cmdPong          = "PONG"
	cmdReconnect     = "RECONNECT"
	cmdResume        = "RESUME"
	cmdLeave         = "LEAVE"
	cmdLogout        = "LOGOUT"
	cmdTyping        = "TYPING"
	cmdReport        = "REPORT"
	cmdError         = "ERROR"
)

// maxID is the largest id the protocol allows: 2^53-1, exact in a JavaScript number.
const maxID = 1<<53 - 1

// request is every field any client frame may carry. Fields a command does not use are ignored,
// and so are unknown fields.
type request struct {
	Cmd        string   `json:"cmd"`
	NickName   string   `json:"nickName"`
	AccountID  int64    `json:"accountId"`
	Token      string   `json:"token"`
	Interests  []string `json:"interests"`
	RequestID  string   `json:"requestId"`
	SenderID   int64    `json:"senderId"`
	SessionID  int64    `json:"sessionId"`
	Content    string   `json:"content"`
	MsgID      int64    `json:"msgId"`
	AfterMsgID int64    `json:"afterMsgId"`
	Typing     *bool    `json:"typing"`
	Category   string   `json:"category"`
	Note       string   `json:"note"`
	// Proof answers the challenge of an earlier CRT_ACCOUNT reply (protocol.md, "Proof of work").
	Proof *challenge.Proof `json:"proof"`
}

var (
	errNotJSON = errors.New("the frame is not a JSON object")
	errNoCmd   = errors.New(`the frame has no "cmd" string`)
)

// decodeRequest parses a client frame. A frame that is not a JSON object with a string cmd
// returns errNotJSON or errNoCmd; a frame with a cmd but a mistyped field returns the request
// (with its Cmd) and the field error, so the reply can name the command.
//
// Frames are decoded with github.com/segmentio/encoding/json, which decodes as encoding/json
// does (the same replacement of invalid UTF-8) in a fifth of the time: every message a client
// sends passes through here. It stops at a mistyped field, though, where encoding/json goes on
// to fill the fields after it, cmd among them; a frame that fails is decoded again by
// encoding/json, so that bad frames are answered as they always were.
func decodeRequest(data []byte, r *request) error {
	if json.Unmarshal(data, r) == nil {
		if r.Cmd == "" {
			return errNoCmd
		}
		return nil
	}
	*r = request{}
	err := stdjson.Unmarshal(data, r)
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil: // not an error to encoding/json after all
	case errors.As(err, &typeErr) && typeErr.Field != "cmd":
		if r.Cmd == "" {
			return errNoCmd
		}
		return fieldError{typeErr.Field}
	case errors.As(err, &typeErr):
		return errNoCmd
	default:
		return errNotJSON
	}
	if r.Cmd == "" {
		return errNoCmd
	}
	return nil
}

// fieldError is a field of the wrong JSON type.
type fieldError struct{ field string }

func (e fieldError) Error() string { return "field " + e.field + " has the wrong type" }
