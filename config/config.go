// Package config holds the configuration of `duet serve`: its defaults, loading from a YAML
// file, DUET_* environment variables and flags, and validation with errors that name the bad
// setting. docs/configuration.md lists every setting.
package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duetchat/duet"
)

// Config is the configuration of `duet serve`. Default holds every default, Load fills it in
// from flags, environment and a YAML file, and Validate states the valid ranges. Each field's
// YAML key (listed in docs/configuration.md) is its name in snake_case.
type Config struct {
	Listen string // host:port of the HTTP and WebSocket server

	// TLS on Listen: from certificate files, or from an ACME certificate authority (autocert).
	TLSCert              string   // PEM certificate (chain) file
	TLSKey               string   // PEM private key file
	TLSAutocertDomains   []string // domains to get certificates for
	TLSAutocertCache     string   // directory of the certificates and the ACME account key
	TLSAutocertEmail     string   // contact of the ACME account
	TLSAutocertDirectory string   // ACME directory URL
	HTTPListen           string   // host:port of plain HTTP: ACME http-01 and a redirect to https

	// Plain HTTP (the page, the API, health checks; not WebSockets, which have their own).
	HTTPTimeout            time.Duration // bound on reading a request and on writing its answer
	HTTPIdleTimeout        time.Duration // a keep-alive connection idle this long is closed
	AddressHTTPConnections int           // open HTTP connections per peer address not behind a trusted proxy

	Engine       string        // where shared state lives: "memory" (one node) or "redis" (many nodes)
	RedisURL     string        // Redis of the redis engine: one server, a cluster or Sentinel
	RedisPrefix  string        // prefix of every Redis key, so that several services can share a Redis
	RedisTimeout time.Duration // bound on each Redis dial, read and write
	RedisWait    time.Duration // how long a start waits for Redis to answer
	// Replicas that must hold a message before its sender is told it is stored, and how long a
	// message waits for them.
	RedisMinReplicas    int
	RedisReplicaTimeout time.Duration

	PingInterval    time.Duration // between server PINGs on a connection
	PresenceTimeout time.Duration // silence after which an away account's sessions end

	MaxSessions int // sessions an account may be in at once
	MaxContent  int // characters of a message
	MaxNickname int // characters of a nickname
	// Combining marks on one character (in messages, nicknames, interests): written languages
	// need a few; hundreds stacked on one letter spill over the page.
	MaxCombiningMarks int

	HistorySize      int           // messages kept per session for RESUME and evidence
	HistoryRetention time.Duration // how long a session's history stays after it ends
	BacklogSize      int           // pushes kept for an account while it is away

	AllowedOrigins  []string       // Origin values allowed to open a WebSocket; empty: the request's own host
	AdminToken      string         // bearer token of the admin API; empty: admin API off
	AdminTokenTries int            // wrong admin tokens a client address may send in a row
	AdminTokenWait  time.Duration  // after them, one more try per this
	RateLimitExempt []netip.Prefix // client addresses that no rate limit applies to
	TrustedProxies  []netip.Prefix // proxies whose X-Forwarded-For names the client
	AddressSecret   string         // key of the client address hashes; empty: generated

	ReadLimit      int64         // bytes of a frame from a client
	SendQueueBytes int           // bytes queued per connection before it is dropped as too slow
	WriteTimeout   time.Duration // deadline of each write to a connection

	// Token buckets per account, kept across its connections and nodes: a rate in frames per
	// second and a burst in frames. The keys
	// of each are <name>_rate and <name>_burst, like dialogue_rate and dialogue_burst.
	Dialogue duet.Limit
	Match    duet.Limit
	Typing   duet.Limit
	Content  duet.Limit // characters of DIALOGUE content
	Leave    duet.Limit // LEAVE frames: skipping from chat to chat
	Report   duet.Limit
	Receipt  duet.Limit // VIEWED_ACK and DELIVERED_ACK frames together
	Resume   duet.Limit

	// Limits per client address, over all nodes.
	Connect            duet.Limit // new WebSockets per second
	AddressConnections int        // open WebSockets
	Account            duet.Limit // accounts created per second
	// Accounts that must solve a challenge first: those beyond Account, and all while the
	// service asks challenges of everybody. Over it, new accounts are refused.
	AccountChallenged duet.Limit
	Reconnect         duet.Limit // RECONNECTs per second
	// Token buckets of the requests of all accounts of a client address together, on each node
	// and shared between nodes every AddressShare. The keys are address_<name>_rate and
	// address_<name>_burst.
	AddressDialogue duet.Limit
	AddressContent  duet.Limit
	AddressMatch    duet.Limit
	AddressReport   duet.Limit
	AddressResume   duet.Limit
	AddressShare    time.Duration

	// Proof of work at account creation (protocol.md, "Proof of work").
	Challenge       string        // off, on or auto
	ChallengeTTL    time.Duration // how long a challenge may be solved in
	ChallengeSecret string        // key that signs challenges; empty: generated
	ChallengeSteps  []int64       // the difficulty (maxnumber) of each step, rising
	ChallengeRates  []float64     // new-account requests per second, service-wide, above which each step applies
	ChallengeWindow time.Duration // what the rate of new accounts is measured over
	ChallengeLedger int           // on the memory engine, accepted challenges remembered at most until they expire

	BadFrameLimit  int           // bad frames within BadFrameWindow before close 1008
	BadFrameWindow time.Duration // window in which bad frames are counted
	Cooloff        time.Duration // automatic ban of a client closed for flooding; 0: none

	InterestWait    time.Duration // how long partners with shared interests are preferred
	PartnerCooldown time.Duration // how long a partner you left is not matched with you again
	CooldownQueue   int           // waiting accounts at which PartnerCooldown applies in full
	DistinctClients bool          // never pair two accounts from one client address
	ReportRetention time.Duration // how long reports and their evidence are kept
	MaxReports      int           // reports kept at most; when full, the oldest resolved one goes
	EvidenceSize    int           // the last messages of a session a report keeps as evidence
	EvidenceKiB     int           // KiB of message text a report keeps as evidence, at most
	DataDir         string        // where the memory engine keeps bans, reports, the audit log and the address secret; empty: nowhere

	FilterWords      string        // path of the word list refused in messages and nicknames
	FilterLinksAfter int           // messages a sender sends in a chat before links are allowed; 0: always, -1: never
	FilterReload     time.Duration // how often the word list file is checked for changes
	AuditSize        int           // entries kept in the admin audit log
	TypingTimeout    time.Duration // how long a typing:true lasts unless refreshed
	MaxConnections   int           // open WebSockets on this node; beyond it upgrades are refused; 0: from the open-file limit
	DrainDelay       time.Duration // at shutdown, how long /readyz answers 503 before connections close
	DrainSpread      time.Duration // at shutdown, the time over which connections are closed, evenly
	ShutdownTimeout  time.Duration // how long shutdown may take in all

	// The garbage collector's target while the node allocates little: mostly idle connections,
	// whose memory then matters more than the collector's processor time.
	GCIdlePercent  int     // GOGC while idle; 0: the runtime's own setting at all times
	GCBusyAllocMiB float64 // MiB allocated per second from which the node is busy, and gets the runtime's setting

	// What the page says of the site, instead of its built-in texts; empty: the built-in one.
	SiteName        string // the site's name, in the page's title, header and texts
	SiteContact     string // how to reach the operators: an email address or an http(s) URL
	SiteAbuse       string // where to report abuse: an email address or an http(s) URL
	SiteRulesFile   string // UTF-8 text file of the rules
	SitePrivacyFile string // UTF-8 text file of the privacy notice

	LogFormat string // "text" or "json"
	LogLevel  string // "debug", "info", "warn" or "error"
	// WARN and ERROR lines of one kind are written once per LogRepeatInterval, then summed up; 0: every line.
	LogRepeatInterval time.Duration
}

// Default returns the configuration with every default set.
func Default() Config {
	return Config{
		Listen:               ":8080",
		TLSAutocertCache:     "./data/autocert",
		TLSAutocertDirectory: "https://acme-v02.api.letsencrypt.org/directory",
		Engine:               "memory",
		RedisURL:             "redis://127.0.0.1:6379/0",
		RedisPrefix:          "duet:",
		RedisTimeout:         time.Second,
		RedisWait:            30 * time.Second,
		RedisReplicaTimeout:  500 * time.Millisecond,
		PingInterval:         5 * time.Second,
		PresenceTimeout:      20 * time.Second,
		MaxSessions:          3,
		MaxContent:           2000,
		MaxNickname:          30,
		HistorySize:          200,
		HistoryRetention:     10 * time.Minute,
		BacklogSize:          500,
		AdminTokenTries:      5,
		AdminTokenWait:       5 * time.Second,
		ReadLimit:            16 << 10,
		SendQueueBytes:       1 << 20,
		WriteTimeout:         10 * time.Second,
		Dialogue:             duet.Limit{Rate: 5, Burst: 20},
		Match:                duet.Limit{Rate: 1, Burst: 5},
		Typing:               duet.Limit{Rate: 2, Burst: 10},
		Content:              duet.Limit{Rate: 200, Burst: 6000},
		Leave:                duet.Limit{Rate: 0.2, Burst: 5},
		Report:               duet.Limit{Rate: 0.05, Burst: 3},
		Receipt:              duet.Limit{Rate: 10, Burst: 30},
		Resume:               duet.Limit{Rate: 0.5, Burst: 10},
		Connect:              duet.Limit{Rate: 20, Burst: 200},
		AddressConnections:   1000,
		Account:              duet.Limit{Rate: 0.5, Burst: 60},
		Reconnect:            duet.Limit{Rate: 20, Burst: 200},
		AccountChallenged:    duet.Limit{Rate: 5, Burst: 300},
		Challenge:            "auto",
		ChallengeTTL:         5 * time.Minute,
		ChallengeSteps:       []int64{20_000, 100_000, 1_000_000},
		ChallengeRates:       []float64{2, 10, 50},
		ChallengeWindow:      10 * time.Second,
		ChallengeLedger:      100_000,
		AddressDialogue:      duet.Limit{Rate: 100, Burst: 500},
		AddressContent:       duet.Limit{Rate: 5000, Burst: 30000},
		AddressMatch:         duet.Limit{Rate: 10, Burst: 200},
		AddressReport:        duet.Limit{Rate: 0.5, Burst: 20},
		AddressResume:        duet.Limit{Rate: 5, Burst: 200},
		AddressShare:         time.Second,
		BadFrameLimit:        20,
		BadFrameWindow:       time.Minute,
		Cooloff:              time.Minute,
		InterestWait:         10 * time.Second,
		PartnerCooldown:      time.Minute,
		CooldownQueue:        10,
		ReportRetention:      30 * 24 * time.Hour,
		MaxReports:           10000,
		EvidenceSize:         100,
		EvidenceKiB:          32,
		DataDir:              "./data",
		FilterLinksAfter:     3,
		FilterReload:         10 * time.Second,
		AuditSize:            10000,
		TypingTimeout:        6 * time.Second,
		DrainDelay:           5 * time.Second,
		DrainSpread:          10 * time.Second,
		ShutdownTimeout:      30 * time.Second,
		GCIdlePercent:        40,
		GCBusyAllocMiB:       16,
		LogFormat:            "text",
		LogLevel:             "info",
		LogRepeatInterval:    10 * time.Second,

		MaxCombiningMarks:      8,
		HTTPTimeout:            10 * time.Second,
		HTTPIdleTimeout:        30 * time.Second,
		AddressHTTPConnections: 1000,
	}
}

// The shortest secrets accepted, in characters.
const (
	minAdminToken = 16
	minSecret     = 16
)

// Validate reports the first invalid setting, naming its key.
func (c Config) Validate() error {
	badOrigin, originsOK := firstBadOrigin(c.AllowedOrigins)
	badDomain := firstBadDomain(c.TLSAutocertDomains)
	rules := slices.Concat([]rule{
		{"listen", validListen(c.Listen), gotValue("must be host:port", c.Listen)},
		{"tls_cert", c.TLSCert != "" || c.TLSKey == "", "must be set with tls_key"},
		{"tls_key", c.TLSKey != "" || c.TLSCert == "", "must be set with tls_cert"},
		{"tls_autocert_domains", len(c.TLSAutocertDomains) == 0 || c.TLSCert == "",
			"cannot be used with tls_cert and tls_key: the certificate comes from one or the other"},
		{"tls_autocert_domains", badDomain == "", gotValue("must hold domain names like duet.example (no scheme, port or wildcard)", badDomain)},
		{"tls_autocert_cache", len(c.TLSAutocertDomains) == 0 || c.TLSAutocertCache != "", "must name a directory when tls_autocert_domains is set"},
		{"tls_autocert_email", c.TLSAutocertEmail == "" || validEmail(c.TLSAutocertEmail), gotValue("must be an email address", c.TLSAutocertEmail)},
		{"tls_autocert_directory", validHTTPSURL(c.TLSAutocertDirectory), gotValue("must be an https URL", c.TLSAutocertDirectory)},
		{"http_listen", c.HTTPListen == "" || validListen(c.HTTPListen), gotValue("must be empty or host:port", c.HTTPListen)},
		{"http_listen", c.HTTPListen == "" || c.TLS(), "needs TLS on listen (tls_cert and tls_key, or tls_autocert_domains): it redirects to https"},
		{"http_timeout", c.HTTPTimeout > 0, gotValue("must be positive", c.HTTPTimeout)},
		{"http_idle_timeout", c.HTTPIdleTimeout > 0, gotValue("must be positive", c.HTTPIdleTimeout)},
		{"address_http_connections", c.AddressHTTPConnections >= 1, gotValue("must be at least 1", c.AddressHTTPConnections)},
		{"engine", c.Engine == "memory" || c.Engine == "redis", fmt.Sprintf("unknown engine %q (supported: memory, redis)", c.Engine)},
		{"redis_url", c.RedisURL != "", "must not be empty"},
		{"redis_prefix", !strings.ContainsAny(c.RedisPrefix, "{} \t\r\n"), gotValue("must not contain braces or white space", c.RedisPrefix)},
		{"redis_timeout", c.RedisTimeout > 0, gotValue("must be positive", c.RedisTimeout)},
		{"redis_wait", c.RedisWait >= 0, gotValue("must not be negative", c.RedisWait)},
		{"redis_min_replicas", c.RedisMinReplicas >= 0, gotValue("must not be negative", c.RedisMinReplicas)},
		{"redis_replica_timeout", c.RedisReplicaTimeout > 0, gotValue("must be positive", c.RedisReplicaTimeout)},
		{"redis_replica_timeout", c.RedisMinReplicas == 0 || c.RedisReplicaTimeout < c.RedisTimeout,
			gotValue(fmt.Sprintf("must be less than redis_timeout (%v), which bounds the wait for its reply, when redis_min_replicas is set", c.RedisTimeout), c.RedisReplicaTimeout)},
		{"ping_interval", c.PingInterval > 0, gotValue("must be positive", c.PingInterval)},
		{"presence_timeout", c.PresenceTimeout > 2*c.PingInterval,
			gotValue(fmt.Sprintf("must be more than twice ping_interval (%v)", c.PingInterval), c.PresenceTimeout)},
		{"max_sessions", c.MaxSessions >= 1, gotValue("must be at least 1", c.MaxSessions)},
		{"max_content", 1 <= c.MaxContent && c.MaxContent <= 100_000, gotValue("must be 1 to 100000", c.MaxContent)},
		{"max_combining_marks", 1 <= c.MaxCombiningMarks && c.MaxCombiningMarks <= 100, gotValue("must be 1 to 100", c.MaxCombiningMarks)},
		{"max_nickname", 1 <= c.MaxNickname && c.MaxNickname <= 200, gotValue("must be 1 to 200", c.MaxNickname)},
		{"history_size", c.HistorySize >= 1, gotValue("must be at least 1", c.HistorySize)},
		{"history_retention", c.HistoryRetention >= 0, gotValue("must not be negative", c.HistoryRetention)},
		{"backlog_size", c.BacklogSize >= 1, gotValue("must be at least 1", c.BacklogSize)},
		{"allowed_origins", originsOK, gotValue("must hold origins like https://duet.example (scheme and host only)", badOrigin)},
		{"admin_token", c.AdminToken == "" || utf8.RuneCountInString(c.AdminToken) >= minAdminToken,
			// The token is a secret: say how long it is, never what it is.
			fmt.Sprintf("must be empty or at least %d characters, got %d", minAdminToken, utf8.RuneCountInString(c.AdminToken))},
		{"admin_token_tries", c.AdminTokenTries >= 1, gotValue("must be at least 1", c.AdminTokenTries)},
		{"admin_token_wait", c.AdminTokenWait > 0, gotValue("must be positive", c.AdminTokenWait)},
		{"rate_limit_exempt", allValid(c.RateLimitExempt), "must hold valid CIDR prefixes"},
		{"trusted_proxies", allValid(c.TrustedProxies), "must hold valid CIDR prefixes"},
		{"address_secret", c.AddressSecret == "" || utf8.RuneCountInString(c.AddressSecret) >= minSecret,
			fmt.Sprintf("must be empty or at least %d characters, got %d", minSecret, utf8.RuneCountInString(c.AddressSecret))},
		{"read_limit", 256 <= c.ReadLimit && c.ReadLimit <= 16<<20, gotValue("must be 256 to 16777216", c.ReadLimit)},
		{"send_queue_bytes", c.SendQueueBytes >= 1024, gotValue("must be at least 1024", c.SendQueueBytes)},
		{"write_timeout", c.WriteTimeout > 0, gotValue("must be positive", c.WriteTimeout)},
	},
		limitRules("dialogue", c.Dialogue), limitRules("match", c.Match), limitRules("typing", c.Typing),
		limitRules("content", c.Content), []rule{{"content_burst", c.Content.Burst >= c.MaxContent,
			gotValue(fmt.Sprintf("must be at least max_content (%d), so that the longest message can be sent", c.MaxContent), c.Content.Burst)}},
		limitRules("leave", c.Leave), limitRules("report", c.Report), limitRules("receipt", c.Receipt),
		limitRules("resume", c.Resume), limitRules("connect", c.Connect),
		[]rule{{"address_connections", c.AddressConnections >= 1, gotValue("must be at least 1", c.AddressConnections)}},
		limitRules("account", c.Account), limitRules("reconnect", c.Reconnect),
		limitRules("account_challenged", c.AccountChallenged), challengeRules(c),
		limitRules("address_dialogue", c.AddressDialogue), limitRules("address_content", c.AddressContent),
		[]rule{{"address_content_burst", c.AddressContent.Burst >= c.MaxContent,
			gotValue(fmt.Sprintf("must be at least max_content (%d), so that the longest message can be sent", c.MaxContent), c.AddressContent.Burst)}},
		limitRules("address_match", c.AddressMatch), limitRules("address_report", c.AddressReport),
		limitRules("address_resume", c.AddressResume),
		[]rule{{"address_share", c.AddressShare > 0, gotValue("must be positive", c.AddressShare)}},
		[]rule{
			{"bad_frame_limit", 1 <= c.BadFrameLimit && c.BadFrameLimit <= 1000, gotValue("must be 1 to 1000", c.BadFrameLimit)},
			{"bad_frame_window", c.BadFrameWindow > 0, gotValue("must be positive", c.BadFrameWindow)},
			{"cooloff", c.Cooloff >= 0, gotValue("must not be negative", c.Cooloff)},
			{"interest_wait", c.InterestWait >= 0, gotValue("must not be negative", c.InterestWait)},
			{"partner_cooldown", c.PartnerCooldown >= 0, gotValue("must not be negative", c.PartnerCooldown)},
			{"cooldown_queue", c.CooldownQueue >= 1, gotValue("must be at least 1", c.CooldownQueue)},
			{"report_retention", c.ReportRetention > 0, gotValue("must be positive", c.ReportRetention)},
			{"max_reports", c.MaxReports >= 1, gotValue("must be at least 1", c.MaxReports)},
			{"evidence_size", c.EvidenceSize >= 1, gotValue("must be at least 1", c.EvidenceSize)},
			{"evidence_kib", 1 <= c.EvidenceKiB && c.EvidenceKiB <= 1024, gotValue("must be 1 to 1024", c.EvidenceKiB)},
			{"filter_links_after", c.FilterLinksAfter >= -1, gotValue("must be -1 (never), 0 (always) or a number of messages", c.FilterLinksAfter)},
			{"filter_reload", c.FilterReload > 0, gotValue("must be positive", c.FilterReload)},
			{"audit_size", c.AuditSize >= 1, gotValue("must be at least 1", c.AuditSize)},
			{"typing_timeout", c.TypingTimeout > 0, gotValue("must be positive", c.TypingTimeout)},
			{"max_connections", c.MaxConnections >= 0, gotValue("must be 0 (from the open-file limit) or more", c.MaxConnections)},
			{"drain_delay", c.DrainDelay >= 0, gotValue("must not be negative", c.DrainDelay)},
			{"drain_spread", c.DrainSpread >= 0, gotValue("must not be negative", c.DrainSpread)},
			{"shutdown_timeout", c.ShutdownTimeout > c.DrainDelay+c.DrainSpread,
				gotValue(fmt.Sprintf("must be more than drain_delay + drain_spread (%v), which it covers", c.DrainDelay+c.DrainSpread), c.ShutdownTimeout)},
			{"gc_idle_percent", 0 <= c.GCIdlePercent && c.GCIdlePercent <= 1000, gotValue("must be 0 (off) to 1000", c.GCIdlePercent)},
			{"gc_busy_alloc_mib", c.GCBusyAllocMiB > 0, gotValue("must be positive", c.GCBusyAllocMiB)},
			{"site_name", validSiteName(c.SiteName), gotValue(fmt.Sprintf("must be at most %d characters on one line", maxSiteName), c.SiteName)},
			{"site_contact", c.SiteContact == "" || validAddress(c.SiteContact), gotValue("must be an email address or an http(s) URL", c.SiteContact)},
			{"site_abuse", c.SiteAbuse == "" || validAddress(c.SiteAbuse), gotValue("must be an email address or an http(s) URL", c.SiteAbuse)},
			{"log_format", c.LogFormat == "text" || c.LogFormat == "json", gotValue("must be text or json", c.LogFormat)},
			{"log_level", validLevel(c.LogLevel), gotValue("must be debug, info, warn or error", c.LogLevel)},
			{"log_repeat_interval", c.LogRepeatInterval >= 0, gotValue("must not be negative", c.LogRepeatInterval)},
		})
	for _, r := range rules {
		if !r.ok {
			return fmt.Errorf("config: %s: %s", r.key, r.problem)
		}
	}
	return nil
}

// challengeRules are the rules of the proof-of-work settings.
func challengeRules(c Config) []rule {
	stepsOK := len(c.ChallengeSteps) >= 1
	for i, n := range c.ChallengeSteps {
		stepsOK = stepsOK && 1 <= n && n <= maxChallengeNumber && (i == 0 || n > c.ChallengeSteps[i-1])
	}
	ratesOK := len(c.ChallengeRates) == len(c.ChallengeSteps)
	for i, r := range c.ChallengeRates {
		ratesOK = ratesOK && r > 0 && (i == 0 || r > c.ChallengeRates[i-1])
	}
	return []rule{
		{"challenge", c.Challenge == "off" || c.Challenge == "on" || c.Challenge == "auto", gotValue("must be off, on or auto", c.Challenge)},
		{"challenge_ttl", time.Second <= c.ChallengeTTL && c.ChallengeTTL <= time.Hour, gotValue("must be 1s to 1h", c.ChallengeTTL)},
		{"challenge_secret", c.ChallengeSecret == "" || utf8.RuneCountInString(c.ChallengeSecret) >= minSecret,
			fmt.Sprintf("must be empty or at least %d characters, got %d", minSecret, utf8.RuneCountInString(c.ChallengeSecret))},
		{"challenge_steps", stepsOK, gotValue(fmt.Sprintf("must be one or more rising numbers of 1 to %d", maxChallengeNumber), c.ChallengeSteps)},
		{"challenge_rates", ratesOK, gotValue(fmt.Sprintf("must be %d rising positive rates, one per challenge step", len(c.ChallengeSteps)), c.ChallengeRates)},
		{"challenge_window", time.Second <= c.ChallengeWindow && c.ChallengeWindow <= 10*time.Minute, gotValue("must be 1s to 10m", c.ChallengeWindow)},
		{"challenge_ledger", c.ChallengeLedger >= 1000, gotValue("must be at least 1000", c.ChallengeLedger)},
	}
}

// maxChallengeNumber bounds a challenge's difficulty: 100 million SHA-256s are minutes of a
// fast computer's time, and far beyond what a visitor would wait for.
const maxChallengeNumber = 100_000_000

// rule is one check of Validate: problem is shown, after the key, when !ok.
type rule struct {
	key     string
	ok      bool
	problem string
}

// limitRules are the rules of every duet.Limit, whose keys are name_rate and name_burst: a
// positive rate and a burst of at least 1.
func limitRules(name string, l duet.Limit) []rule {
	return []rule{
		{name + "_rate", l.Rate > 0, gotValue("must be positive", l.Rate)},
		{name + "_burst", l.Burst >= 1, gotValue("must be at least 1", l.Burst)},
	}
}

// TLS reports whether the node serves TLS on Listen.
func (c Config) TLS() bool { return c.TLSCert != "" || len(c.TLSAutocertDomains) > 0 }

// firstBadDomain returns the first entry that is not a plain DNS name, which is all an ACME
// http-01 or tls-alpn-01 challenge can prove.
func firstBadDomain(domains []string) string {
	for _, d := range domains {
		labels := strings.Split(d, ".")
		if len(d) > 253 || len(labels) < 2 || strings.ContainsFunc(d, func(r rune) bool {
			return !(r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
		}) || slices.ContainsFunc(labels, func(l string) bool { return l == "" || len(l) > 63 }) {
			if d == "" {
				return `""`
			}
			return d
		}
	}
	return ""
}

// maxSiteName is the longest site name, in characters: it stands in the page's header.
const maxSiteName = 60

func validSiteName(s string) bool {
	return utf8.RuneCountInString(s) <= maxSiteName && strings.TrimSpace(s) == s &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// validAddress reports whether s is an email address or an absolute http(s) URL: where the page
// can send a visitor.
func validAddress(s string) bool {
	if validEmail(s) {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

func validHTTPSURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != ""
}

// gotValue appends the offending value to a rule, quoted as it would be written.
func gotValue(rule string, value any) string {
	return fmt.Sprintf("%s, got %q", rule, fmt.Sprint(value))
}

func validListen(addr string) bool {
	_, _, err := net.SplitHostPort(addr)
	return err == nil
}

// firstBadOrigin returns the first entry that is not exactly scheme://host[:port], the form
// of a browser's Origin header.
func firstBadOrigin(origins []string) (string, bool) {
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || u.Scheme+"://"+u.Host != o {
			return o, false
		}
	}
	return "", true
}

func allValid(prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if !p.IsValid() {
			return false
		}
	}
	return true
}

func validLevel(level string) bool {
	switch level {
	case "debug", "info", "warn", "error":
		return true
	}
	return false
}
