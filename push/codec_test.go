package push

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestDecodeRequest(t *testing.T) {
	tests := map[string]struct {
		frame   string
		wantCmd string
		wantErr error
	}{
		"seed":              {`{"cmd":"MATCH","accountId":5}`, "MATCH", nil},
		"req dialect":       {`{"cmd":"DIALOGUE_REQ","content":"hi"}`, "DIALOGUE_REQ", nil},
		"unknown fields":    {`{"cmd":"PING","future":[1,2]}`, "PING", nil},
		"not json":          {`hello`, "", errNotJSON},
		"truncated":         {`{"cmd":"MATCH"`, "", errNotJSON},
		"no cmd":            {`{"content":"hi"}`, "", errNoCmd},
		"cmd not a string":  {`{"cmd":7}`, "", errNoCmd},
		"array":             {`[1,2]`, "", errNoCmd},
		"mistyped field":    {`{"cmd":"DIALOGUE","sessionId":"10"}`, "DIALOGUE", fieldError{"sessionId"}},
		"fractional id":     {`{"cmd":"LEAVE","sessionId":1.5}`, "LEAVE", fieldError{"sessionId"}},
		"id beyond int64":   {`{"cmd":"LEAVE","sessionId":1e30}`, "LEAVE", fieldError{"sessionId"}},
		"typing not a bool": {`{"cmd":"TYPING","typing":"yes"}`, "TYPING", fieldError{"typing"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var r request
			err := decodeRequest([]byte(tt.frame), &r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("decodeRequest(%s) error = %v, want %v", tt.frame, err, tt.wantErr)
			}
			if tt.wantErr == nil || errors.As(tt.wantErr, new(fieldError)) {
				if r.Cmd != tt.wantCmd {
					t.Errorf("cmd = %q, want %q", r.Cmd, tt.wantCmd)
				}
			}
		})
	}
}

func TestDialectNames(t *testing.T) {
	tests := []struct {
		d         dialect
		k         kind
		cmd, want string
	}{
		{seedDialect, kindReply, "MATCH", "MATCH"},
		{reqDialect, kindReply, "MATCH", "MATCH_RESP"},
		{seedDialect, kindPush, "PUSH_DIALOGUE", "PUSH_DIALOGUE"},
		{reqDialect, kindPush, "PUSH_DIALOGUE", "PUSH_DIALOGUE_REQ"},
		{seedDialect, kindPush, "PING", "PING"},
		{reqDialect, kindPush, "PING", "PING_REQ"},
		{seedDialect, kindReply, "PING", "PONG"},
		{reqDialect, kindReply, "PING", "PING_RESP"},
		{reqDialect, kindError, "", "ERROR"},
		{seedDialect, kindError, "", "ERROR"},
	}
	for _, tt := range tests {
		if got := tt.d.name(tt.k, tt.cmd); got != tt.want {
			t.Errorf("dialect %d name(%d, %s) = %s, want %s", tt.d, tt.k, tt.cmd, got, tt.want)
		}
	}
	for cmd, want := range map[string]string{"MATCH_REQ": "MATCH", "PING_RESP": "PONG", "PING_REQ": "PING", "PONG": "PONG", "PUSH_SIGNAL_RESP": "PUSH_SIGNAL"} {
		if got, _ := baseCommand(cmd); got != want {
			t.Errorf("baseCommand(%s) = %s, want %s", cmd, got, want)
		}
	}
}

// FuzzDecodeRequest checks that no frame crashes the decoder, that a frame it accepts has a
// command and was a JSON object, and that it reads every frame as encoding/json does.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"cmd":"DIALOGUE","requestId":"r1","sessionId":12,"content":"hi \ud83d\ude00"}`,
		"{\"cmd\":\"DIALOGUE\",\"content\":\"a\xffb\"}", `{"CMD":"MATCH","Interests":["go"]}`,
		`{"afterMsgId":"x","cmd":"RESUME","sessionId":3}`, `{"cmd":"TYPING","typing":null}`,
		`{"cmd":"A","cmd":"B"}`, `{"cmd":"A","sessionId":1e3}`, `{"cmd":"A"} x`, `[1]`, `{"cmd":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r request
		err := decodeRequest(data, &r)
		if err == nil || errors.As(err, new(fieldError)) {
			if r.Cmd == "" {
				t.Fatalf("accepted %q without a cmd", data)
			}
			var obj map[string]any
			if json.Unmarshal(data, &obj) != nil && err == nil {
				t.Fatalf("accepted %q, which is not a JSON object", data)
			}
		}
		var std request
		stdErr := json.Unmarshal(data, &std)
		if (err == nil) != (stdErr == nil && std.Cmd != "") || !reflect.DeepEqual(r, std) && stdErr == nil {
			t.Fatalf("%q: decoded %+v (%v), encoding/json decodes %+v (%v)", data, r, err, std, stdErr)
		}
	})
}
