package duet

// Limit is a token bucket: at most Burst tokens, refilled at Rate tokens a second. A request
// that finds too few tokens is refused with RateLimited.
type Limit struct {
	Rate  float64
	Burst int
}
