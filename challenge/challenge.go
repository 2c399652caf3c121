// Package challenge is the proof of work that account creation may ask for (protocol.md,
// "Proof of work"): challenges in ALTCHA's format, signed with HMAC-SHA256 so that any node
// verifies a proof on its own; a Ledger that accepts each proof once on the whole service; and
// the Gate, which decides by the operators' mode and the rate of new accounts who must solve a
// challenge, and how hard it is.
//
// The scheme is ALTCHA's, written here on crypto/sha256 and crypto/hmac: the Go module proxy
// this project builds with refuses github.com/altcha-org/altcha-lib-go, and the scheme is a
// few lines of the standard library.
package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only hash of the challenges issued and the proofs accepted.
const Algorithm = "SHA-256"

// Challenge asks a client for the number in 0..MaxNumber whose SHA-256 of Salt followed by its
// decimal digits, in hex, is Challenge. Signature is the server's HMAC-SHA256 of Challenge;
// Salt ends in "?expires=<Unix seconds>".
type Challenge struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	MaxNumber int64  `json:"maxnumber"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// Proof is a client's answer to a Challenge: the challenge's fields echoed, and the Number.
type Proof struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	Number    int64  `json:"number"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// Why a proof is refused. The client is shown the sentence, then given a fresh challenge.
var (
	ErrExpired  = errors.New("the challenge expired before it was solved; solve this new one")
	ErrForged   = errors.New("the proof does not answer a challenge of this service; solve this new one")
	ErrWrong    = errors.New("the number does not solve the challenge; solve this new one")
	ErrReplayed = errors.New("this proof was used already; solve this new one")
)

// Refused reports whether err is the refusal of a proof, which a fresh challenge answers.
func Refused(err error) bool {
	return slices.Contains([]error{ErrExpired, ErrForged, ErrWrong, ErrReplayed}, err)
}

// Signer issues and verifies challenges under one key, which every node of a service shares.
type Signer struct {
	key []byte
	ttl time.Duration
}

// NewSigner returns a signer with key whose challenges are good for ttl.
func NewSigner(key []byte, ttl time.Duration) Signer {
	return Signer{key: key, ttl: ttl}
}

// Issue returns a challenge of difficulty maxnumber, good until ttl after now: its number is
// drawn uniformly from 0..maxnumber, so that a client tries maxnumber/2 numbers on average.
func (s Signer) Issue(maxnumber int64, now time.Time) Challenge {
	var b [8]byte
	rand.Read(b[:])
	number := int64(binary.LittleEndian.Uint64(b[:]) % uint64(maxnumber+1)) // the bias is below 2^-40
	salt := rand.Text()[:16] + "?expires=" + strconv.FormatInt(now.Add(s.ttl).Unix(), 10)
	hash := digest(salt, number)
	return Challenge{Algorithm: Algorithm, Challenge: hash, MaxNumber: maxnumber, Salt: salt, Signature: s.sign(hash)}
}

// Verify checks p at now, without a store, and returns when its challenge expires: until then,
// a Ledger must remember it so that it is accepted once.
func (s Signer) Verify(p Proof, now time.Time) (time.Time, error) {
	expires, ok := expiry(p.Salt)
	switch {
	case p.Algorithm != Algorithm || !ok || !hmac.Equal([]byte(s.sign(p.Challenge)), []byte(p.Signature)):
		return time.Time{}, ErrForged
	case !now.Before(expires):
		return time.Time{}, ErrExpired
	case p.Number < 0 || digest(p.Salt, p.Number) != p.Challenge:
		return time.Time{}, ErrWrong
	}
	return expires, nil
}

func (s Signer) sign(challenge string) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(challenge))
	return hex.EncodeToString(mac.Sum(nil))
}

// digest is the hex SHA-256 of salt followed by number's decimal digits.
func digest(salt string, number int64) string {
	sum := sha256.Sum256(strconv.AppendInt([]byte(salt), number, 10))
	return hex.EncodeToString(sum[:])
}

// expiry reads the expiry a salt carries in its parameters after "?".
func expiry(salt string) (time.Time, bool) {
	_, query, found := strings.Cut(salt, "?")
	if !found {
		return time.Time{}, false
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return time.Time{}, false
	}
	unix, err := strconv.ParseInt(params.Get("expires"), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(unix, 0), true
}
