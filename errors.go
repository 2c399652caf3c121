// Package duet holds the vocabulary shared by every part of the service: the reply codes of the
// wire protocol and the error type that carries one of them from where a request fails to the
// edge that answers it.
package duet

import (
	"errors"
	"fmt"
	"time"
)

// Code is a reply code of the wire protocol (docs/protocol.md).
type Code int

// The reply codes. Their numbers are part of the protocol and never change.
const (
	OK           Code = 0
	ParamErr     Code = 1
	InternalErr  Code = 2
	UnknownErr   Code = 3
	NoDataFound  Code = 4
	Unauthorized Code = 5
	RateLimited  Code = 6
	Banned       Code = 7
	SessionEnded Code = 8
	LimitReached Code = 9
	Unavailable  Code = 10
	// ChallengeRequired refuses a new account until its client solves the challenge in the reply.
	ChallengeRequired Code = 11
)

// Error is a failure that a client may see: a protocol code and a sentence safe to show a person.
// RetryAfter is set for RateLimited; Until and Reason for Banned.
type Error struct {
	Code       Code
	Msg        string
	RetryAfter time.Duration
	Until      time.Time
	Reason     string
}

func (e *Error) Error() string { return fmt.Sprintf("code %d: %s", e.Code, e.Msg) }

// Errorf returns an *Error with code c and a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the protocol code of err: its own when it is (or wraps) an *Error, OK for
// nil, and InternalErr for anything else, since an unexpected error means the server failed.
func ErrorCode(err error) Code {
	if err == nil {
		return OK
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return InternalErr
}

// ErrorMessage returns the sentence a client may see for err. Errors that are not an *Error
// never leak their text: they are internal, and the client only learns to retry.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Msg
	}
	return "the server could not complete the request; please retry"
}
