package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// setting is one configuration setting. Its key names it in the YAML file; its environment
// variable and flag are derived from the key.
type setting struct {
	key string
	// field returns a pointer to the setting's field of c: *string, *bool, *int, *int64, *float64,
	// *time.Duration, *[]string, *[]netip.Prefix, *[]int64 or *[]float64.
	field func(c *Config) any
	help  string
}

// envName returns the setting's environment variable: DUET_PING_INTERVAL for ping_interval.
func (s setting) envName() string { return "DUET_" + strings.ToUpper(s.key) }

// flagName returns the setting's flag name: ping-interval for ping_interval.
func (s setting) flagName() string { return strings.ReplaceAll(s.key, "_", "-") }

// settings lists every setting, in the order of Config's fields.
var settings = []setting{
	{"listen", func(c *Config) any { return &c.Listen }, "host:port of the HTTP and WebSocket server"},
	{"tls_cert", func(c *Config) any { return &c.TLSCert }, "PEM certificate file (the chain, leaf first) for TLS on listen, read again when it changes; with tls_key"},
	{"tls_key", func(c *Config) any { return &c.TLSKey }, "PEM private key file of tls_cert"},
	{"tls_autocert_domains", func(c *Config) any { return &c.TLSAutocertDomains }, "domains to get certificates for from an ACME authority (Let's Encrypt) for TLS on listen; not with tls_cert"},
	{"tls_autocert_cache", func(c *Config) any { return &c.TLSAutocertCache }, "directory where autocert keeps its certificates and account key"},
	{"tls_autocert_email", func(c *Config) any { return &c.TLSAutocertEmail }, "contact address of the ACME account, for expiry notices; none: no contact"},
	{"tls_autocert_directory", func(c *Config) any { return &c.TLSAutocertDirectory }, "ACME directory URL (Let's Encrypt's staging one to try things out)"},
	{"http_listen", func(c *Config) any { return &c.HTTPListen }, "host:port of plain HTTP (like :80) that answers ACME http-01 challenges and redirects everything else to https; needs TLS; none: no plain HTTP"},
	{"http_timeout", func(c *Config) any { return &c.HTTPTimeout }, "bound on reading a plain HTTP request and on writing its answer (WebSockets have their own)"},
	{"http_idle_timeout", func(c *Config) any { return &c.HTTPIdleTimeout }, "a keep-alive HTTP connection idle this long is closed"},
	{"address_http_connections", func(c *Config) any { return &c.AddressHTTPConnections }, "open plain HTTP connections per peer address not behind a trusted proxy, on each node"},
	{"engine", func(c *Config) any { return &c.Engine }, "where shared state lives: memory (one node) or redis (many nodes)"},
	{"redis_url", func(c *Config) any { return &c.RedisURL }, "Redis of the redis engine: redis://host:port/db; a cluster with ?addr=host2:port&addr=...; Sentinel with ?master_name=name"},
	{"redis_prefix", func(c *Config) any { return &c.RedisPrefix }, "prefix of every Redis key"},
	{"redis_timeout", func(c *Config) any { return &c.RedisTimeout }, "bound on each Redis dial, read and write; a request fails with code 2 after it"},
	{"redis_wait", func(c *Config) any { return &c.RedisWait }, "how long a start waits for Redis to answer, retrying, before it gives up; 0: not at all"},
	{"redis_min_replicas", func(c *Config) any { return &c.RedisMinReplicas }, "replicas that must hold a message before its sender is told it is stored (WAIT); 0: do not wait"},
	{"redis_replica_timeout", func(c *Config) any { return &c.RedisReplicaTimeout }, "how long a message waits for redis_min_replicas replicas before the sender gets code 2; less than redis_timeout"},
	{"ping_interval", func(c *Config) any { return &c.PingInterval }, "time between server PINGs on a connection"},
	{"presence_timeout", func(c *Config) any { return &c.PresenceTimeout }, "silence after which an away account's sessions end; more than twice ping_interval"},
	{"max_sessions", func(c *Config) any { return &c.MaxSessions }, "sessions an account may be in at once"},
	{"max_content", func(c *Config) any { return &c.MaxContent }, "characters of a message, 1 to 100000"},
	{"max_combining_marks", func(c *Config) any { return &c.MaxCombiningMarks }, "combining marks on one character in a message, nickname or interest, 1 to 100"},
	{"max_nickname", func(c *Config) any { return &c.MaxNickname }, "characters of a nickname, 1 to 200"},
	{"history_size", func(c *Config) any { return &c.HistorySize }, "messages kept per session for RESUME and evidence"},
	{"history_retention", func(c *Config) any { return &c.HistoryRetention }, "how long a session's history stays after it ends"},
	{"backlog_size", func(c *Config) any { return &c.BacklogSize }, "pushes kept for an account while it is away"},
	{"allowed_origins", func(c *Config) any { return &c.AllowedOrigins }, "origins allowed to open a WebSocket, like https://duet.example; empty: the request's own host"},
	{"admin_token", func(c *Config) any { return &c.AdminToken }, "bearer token of the admin API, at least 16 characters; empty: admin API off"},
	{"admin_token_tries", func(c *Config) any { return &c.AdminTokenTries }, "wrong admin tokens a client address may send in a row before it is answered 429"},
	{"admin_token_wait", func(c *Config) any { return &c.AdminTokenWait }, "after admin_token_tries, one more try per this"},
	{"rate_limit_exempt", func(c *Config) any { return &c.RateLimitExempt }, "CIDR prefixes of clients exempt from rate limits; a bare IP means just that address"},
	{"trusted_proxies", func(c *Config) any { return &c.TrustedProxies }, "CIDR prefixes of reverse proxies whose X-Forwarded-For names the client; none: the TCP peer is the client"},
	{"address_secret", func(c *Config) any { return &c.AddressSecret }, "key of the hashes kept of client addresses, at least 16 characters, the same on every node; none: generated once and kept in data_dir (on the redis engine, in Redis)"},
	{"read_limit", func(c *Config) any { return &c.ReadLimit }, "bytes of a frame from a client, 256 to 16777216"},
	{"send_queue_bytes", func(c *Config) any { return &c.SendQueueBytes }, "bytes queued per connection before it is dropped as too slow"},
	{"write_timeout", func(c *Config) any { return &c.WriteTimeout }, "deadline of each write to a connection"},
	{"dialogue_rate", func(c *Config) any { return &c.Dialogue.Rate }, "DIALOGUE frames per second per account"},
	{"dialogue_burst", func(c *Config) any { return &c.Dialogue.Burst }, "DIALOGUE frames allowed in a burst"},
	{"match_rate", func(c *Config) any { return &c.Match.Rate }, "MATCH frames per second per account"},
	{"match_burst", func(c *Config) any { return &c.Match.Burst }, "MATCH frames allowed in a burst"},
	{"typing_rate", func(c *Config) any { return &c.Typing.Rate }, "TYPING frames per second per account"},
	{"typing_burst", func(c *Config) any { return &c.Typing.Burst }, "TYPING frames allowed in a burst"},
	{"content_rate", func(c *Config) any { return &c.Content.Rate }, "characters of DIALOGUE content per second per account"},
	{"content_burst", func(c *Config) any { return &c.Content.Burst }, "characters of DIALOGUE content allowed in a burst; at least max_content"},
	{"leave_rate", func(c *Config) any { return &c.Leave.Rate }, "LEAVE frames per second per account: skipping from chat to chat"},
	{"leave_burst", func(c *Config) any { return &c.Leave.Burst }, "LEAVE frames allowed in a burst"},
	{"report_rate", func(c *Config) any { return &c.Report.Rate }, "REPORT frames per second per account"},
	{"report_burst", func(c *Config) any { return &c.Report.Burst }, "REPORT frames allowed in a burst"},
	{"receipt_rate", func(c *Config) any { return &c.Receipt.Rate }, "VIEWED_ACK and DELIVERED_ACK frames per second per account, together"},
	{"receipt_burst", func(c *Config) any { return &c.Receipt.Burst }, "VIEWED_ACK and DELIVERED_ACK frames allowed in a burst"},
	{"resume_rate", func(c *Config) any { return &c.Resume.Rate }, "RESUME frames per second per account"},
	{"resume_burst", func(c *Config) any { return &c.Resume.Burst }, "RESUME frames allowed in a burst"},
	{"connect_rate", func(c *Config) any { return &c.Connect.Rate }, "new WebSockets per second per client address, over all nodes"},
	{"connect_burst", func(c *Config) any { return &c.Connect.Burst }, "new WebSockets per client address allowed in a burst"},
	{"address_connections", func(c *Config) any { return &c.AddressConnections }, "open WebSockets per client address, over all nodes"},
	{"account_rate", func(c *Config) any { return &c.Account.Rate }, "accounts created per second per client address, over all nodes"},
	{"account_burst", func(c *Config) any { return &c.Account.Burst }, "accounts per client address created in a burst"},
	{"account_challenged_rate", func(c *Config) any { return &c.AccountChallenged.Rate }, "accounts created per second per client address that solve a challenge first, beyond account_rate; over it, refused"},
	{"account_challenged_burst", func(c *Config) any { return &c.AccountChallenged.Burst }, "accounts per client address that solve a challenge first, in a burst; the more of it an address spends, the harder its challenges"},
	{"reconnect_rate", func(c *Config) any { return &c.Reconnect.Rate }, "RECONNECTs per second per client address, over all nodes"},
	{"reconnect_burst", func(c *Config) any { return &c.Reconnect.Burst }, "RECONNECTs per client address allowed in a burst"},
	{"address_dialogue_rate", func(c *Config) any { return &c.AddressDialogue.Rate }, "DIALOGUE frames per second per client address, all its accounts together"},
	{"address_dialogue_burst", func(c *Config) any { return &c.AddressDialogue.Burst }, "DIALOGUE frames per client address allowed in a burst"},
	{"address_content_rate", func(c *Config) any { return &c.AddressContent.Rate }, "characters of DIALOGUE content per second per client address, all its accounts together"},
	{"address_content_burst", func(c *Config) any { return &c.AddressContent.Burst }, "characters of DIALOGUE content per client address allowed in a burst; at least max_content"},
	{"address_match_rate", func(c *Config) any { return &c.AddressMatch.Rate }, "MATCH frames per second per client address, all its accounts together"},
	{"address_match_burst", func(c *Config) any { return &c.AddressMatch.Burst }, "MATCH frames per client address allowed in a burst"},
	{"address_report_rate", func(c *Config) any { return &c.AddressReport.Rate }, "REPORT frames per second per client address, all its accounts together"},
	{"address_report_burst", func(c *Config) any { return &c.AddressReport.Burst }, "REPORT frames per client address allowed in a burst"},
	{"address_resume_rate", func(c *Config) any { return &c.AddressResume.Rate }, "RESUME frames per second per client address, all its accounts together"},
	{"address_resume_burst", func(c *Config) any { return &c.AddressResume.Burst }, "RESUME frames per client address allowed in a burst"},
	{"address_share", func(c *Config) any { return &c.AddressShare }, "how often each node shares with the others what client addresses spent of their address_* request limits (redis engine)"},
	{"challenge", func(c *Config) any { return &c.Challenge }, "when a new account must solve a proof-of-work challenge first: off, on (always) or auto (while new accounts arrive faster than the first of challenge_rates, or from an address over account_rate)"},
	{"challenge_ttl", func(c *Config) any { return &c.ChallengeTTL }, "how long a challenge may be solved in"},
	{"challenge_secret", func(c *Config) any { return &c.ChallengeSecret }, "key that signs challenges, at least 16 characters, the same on every node; none: generated once and kept in data_dir (on the redis engine, in Redis)"},
	{"challenge_steps", func(c *Config) any { return &c.ChallengeSteps }, "difficulty of each step, rising (maxnumber: a browser tries half of it on average, about 125000 a second on a desktop, a quarter of that on a mid-range phone)"},
	{"challenge_rates", func(c *Config) any { return &c.ChallengeRates }, "new-account requests per second, service-wide, above which each of challenge_steps applies in auto"},
	{"challenge_window", func(c *Config) any { return &c.ChallengeWindow }, "what the rate of new accounts is measured over"},
	{"challenge_ledger", func(c *Config) any { return &c.ChallengeLedger }, "on the memory engine, accepted challenges remembered until they expire, at most; beyond it new accounts wait"},
	{"bad_frame_limit", func(c *Config) any { return &c.BadFrameLimit }, "bad frames per bad_frame_window before the connection is closed with 1008"},
	{"bad_frame_window", func(c *Config) any { return &c.BadFrameWindow }, "window in which bad frames are counted"},
	{"cooloff", func(c *Config) any { return &c.Cooloff }, "how long a client closed for flooding is banned, by account and address; 0: not at all"},
	{"interest_wait", func(c *Config) any { return &c.InterestWait }, "how long partners with shared interests are preferred"},
	{"partner_cooldown", func(c *Config) any { return &c.PartnerCooldown }, "how long a partner you left is not matched with you again"},
	{"cooldown_queue", func(c *Config) any { return &c.CooldownQueue }, "waiting accounts at which partner_cooldown applies in full; with fewer it shrinks in proportion"},
	{"distinct_clients", func(c *Config) any { return &c.DistinctClients }, "never pair two accounts from one client address (people behind one NAT share one)"},
	{"report_retention", func(c *Config) any { return &c.ReportRetention }, "how long reports and their evidence are kept"},
	{"max_reports", func(c *Config) any { return &c.MaxReports }, "reports kept at most; when full, a new report pushes out the oldest resolved one, or the oldest if all are open"},
	{"evidence_size", func(c *Config) any { return &c.EvidenceSize }, "the last messages of a session kept as a report's evidence, at most"},
	{"evidence_kib", func(c *Config) any { return &c.EvidenceKiB }, "KiB of message text kept as a report's evidence, at most"},
	{"data_dir", func(c *Config) any { return &c.DataDir }, "directory where the memory engine keeps bans, reports, the audit log and the address secret across restarts, made if missing; none: kept in memory only, lost at each restart"},
	{"filter_words", func(c *Config) any { return &c.FilterWords }, "word list file refused in messages and nicknames, one word or phrase per line; reloaded when it changes; none: no list"},
	{"filter_links_after", func(c *Config) any { return &c.FilterLinksAfter }, "messages a sender must send in a chat before links are allowed; 0: always allowed, -1: never"},
	{"filter_reload", func(c *Config) any { return &c.FilterReload }, "how often the word list file is checked for changes"},
	{"audit_size", func(c *Config) any { return &c.AuditSize }, "entries kept in the admin audit log, the newest"},
	{"typing_timeout", func(c *Config) any { return &c.TypingTimeout }, "how long a typing:true lasts unless refreshed"},
	{"max_connections", func(c *Config) any { return &c.MaxConnections }, "open WebSockets on this node; beyond it a new one is refused with 503 and /readyz says the node is full; 0: 20000, or fewer if the open-file limit is lower"},
	{"drain_delay", func(c *Config) any { return &c.DrainDelay }, "at shutdown, how long /readyz answers 503 (so that a load balancer stops sending) before connections are closed; 0: none"},
	{"drain_spread", func(c *Config) any { return &c.DrainSpread }, "at shutdown, the time over which connections are closed with 1001, evenly, so that their clients do not all reconnect at once; 0: all at once"},
	{"shutdown_timeout", func(c *Config) any { return &c.ShutdownTimeout }, "how long shutdown may take in all; more than drain_delay + drain_spread"},
	{"gc_idle_percent", func(c *Config) any { return &c.GCIdlePercent }, "the garbage collector's GOGC while the node allocates less than gc_busy_alloc_mib a second (idle connections cost less memory); 0: the runtime's own (GOGC, else 100) at all times"},
	{"gc_busy_alloc_mib", func(c *Config) any { return &c.GCBusyAllocMiB }, "MiB the node allocates per second, averaged over 10 seconds, from which it is busy, and its collector runs at the runtime's own GOGC again"},
	{"site_name", func(c *Config) any { return &c.SiteName }, "the site's name, shown by the page in its title, header and texts, at most 60 characters; none: Duet"},
	{"site_contact", func(c *Config) any { return &c.SiteContact }, "how to reach the operators, shown by the page: an email address or an http(s) URL; none: not shown"},
	{"site_abuse", func(c *Config) any { return &c.SiteAbuse }, "where to report abuse, shown by the page: an email address or an http(s) URL; none: not shown"},
	{"site_rules_file", func(c *Config) any { return &c.SiteRulesFile }, "UTF-8 text file of the site's rules, shown by the page instead of its built-in rules, read at start; none: the built-in rules"},
	{"site_privacy_file", func(c *Config) any { return &c.SitePrivacyFile }, "UTF-8 text file of the site's privacy notice, shown by the page instead of its built-in one, read at start; none: the built-in one"},
	{"log_format", func(c *Config) any { return &c.LogFormat }, "text or json"},
	{"log_level", func(c *Config) any { return &c.LogLevel }, "debug, info, warn or error"},
	{"log_repeat_interval", func(c *Config) any { return &c.LogRepeatInterval }, "a kind of warning or error (message and error) is logged at most once per interval, then summed up in one line with its count; 0: every line"},
}

// configEnv names the YAML file when --config is not given.
const configEnv = "DUET_CONFIG"

// Load builds the configuration of `duet serve` from its command-line args (flags only, no
// subcommand), the environment (getenv, normally os.Getenv) and the YAML file named by --config
// or DUET_CONFIG (optional). Precedence: flag > environment > file > default. An empty
// environment variable counts as unset. The result is validated.
//
// With -h/--help it writes the usage (every flag with its env var and default) to usage and
// returns flag.ErrHelp.
func Load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	// Flags are parsed first, to find --config, but applied last, so that they win.
	fs := flag.NewFlagSet("duet serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, usage is written only for --help
	path := fs.String("config", "", "")
	flags := make([]flagText, len(settings))
	for i, s := range settings {
		_, flags[i].isBool = s.field(&Config{}).(*bool)
		fs.Var(&flags[i], s.flagName(), s.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(usage)
			return Config{}, err
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}

	c := Default()
	file := *path
	if file == "" {
		file = getenv(configEnv)
	}
	if file != "" {
		if err := c.loadFile(file); err != nil {
			return Config{}, err
		}
	}
	for _, s := range settings {
		if text := getenv(s.envName()); text != "" {
			if err := parse(s.field(&c), text); err != nil {
				return Config{}, fmt.Errorf("config: %s (%s): %w", s.envName(), s.key, err)
			}
		}
	}
	for i, s := range settings {
		if flags[i].set {
			if err := parse(s.field(&c), flags[i].text); err != nil {
				return Config{}, fmt.Errorf("config: --%s (%s): %w", s.flagName(), s.key, err)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// flagText is a flag's value as given, kept to be parsed after the file and the environment.
// A bool flag may stand alone (--distinct-clients) or take a value (--distinct-clients=false).
type flagText struct {
	text   string
	set    bool
	isBool bool
}

func (f *flagText) IsBoolFlag() bool { return f.isBool }

func (f *flagText) String() string { return f.text }

func (f *flagText) Set(text string) error {
	f.text, f.set = text, true
	return nil
}

// loadFile applies the settings in the YAML file at path. It is strict: an unknown or repeated
// key is an error.
func (c *Config) loadFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // empty, or only comments
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("config: %s: line %d: want a mapping of settings", path, root.Line)
	}
	byKey := make(map[string]setting, len(settings))
	for _, s := range settings {
		byKey[s.key] = s
	}
	seen := make(map[string]bool, len(root.Content)/2)
	for i := 0; i < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		s, ok := byKey[key.Value]
		switch {
		case !ok:
			return fmt.Errorf("config: %s: line %d: unknown key %q%s", path, key.Line, key.Value, didYouMean(key.Value))
		case seen[key.Value]:
			return fmt.Errorf("config: %s: line %d: %s: repeated", path, key.Line, key.Value)
		}
		seen[key.Value] = true
		if err := parseNode(s.field(c), value); err != nil {
			return fmt.Errorf("config: %s: line %d: %s: %w", path, value.Line, key.Value, err)
		}
	}
	return nil
}

// parseNode sets the field p points to from a YAML value: a list for a list field, else a
// scalar in the same text form as in the environment.
func parseNode(p any, node *yaml.Node) error {
	if isList(p) {
		if node.Kind != yaml.SequenceNode {
			return errors.New("must be a list")
		}
		var items []string
		for i, item := range node.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("item %d must be a single value", i+1)
			}
			items = append(items, item.Value)
		}
		return parseList(p, items)
	}
	if node.Kind != yaml.ScalarNode {
		return errors.New("must be a single value")
	}
	if node.ShortTag() == "!!null" {
		return parse(p, "")
	}
	return parse(p, node.Value)
}

func isList(p any) bool {
	switch p.(type) {
	case *[]string, *[]netip.Prefix, *[]int64, *[]float64:
		return true
	}
	return false
}

// parse sets the field p points to from text, the form of an environment variable or a flag.
// A list is comma-separated.
func parse(p any, text string) error {
	var err error
	switch p := p.(type) {
	case *string:
		*p = text
	case *bool:
		if *p, err = strconv.ParseBool(text); err != nil {
			return fmt.Errorf("%q is not true or false", text)
		}
	case *int:
		if *p, err = strconv.Atoi(text); err != nil {
			return fmt.Errorf("%q is not an integer", text)
		}
	case *int64:
		if *p, err = strconv.ParseInt(text, 10, 64); err != nil {
			return fmt.Errorf("%q is not an integer", text)
		}
	case *float64:
		if *p, err = strconv.ParseFloat(text, 64); err != nil {
			return fmt.Errorf("%q is not a number", text)
		}
	case *time.Duration:
		if *p, err = time.ParseDuration(text); err != nil {
			return fmt.Errorf("%q is not a duration like 5s or 1m30s", text)
		}
	case *[]string, *[]netip.Prefix, *[]int64, *[]float64:
		var items []string
		for item := range strings.SplitSeq(text, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		return parseList(p, items)
	default:
		panic(fmt.Sprintf("config: no parser for %T", p))
	}
	return nil
}

// parseList sets the list field p points to from its items.
func parseList(p any, items []string) error {
	switch p := p.(type) {
	case *[]string:
		*p = items
	case *[]netip.Prefix:
		var prefixes []netip.Prefix
		for _, item := range items {
			prefix, err := parsePrefix(item)
			if err != nil {
				return err
			}
			prefixes = append(prefixes, prefix)
		}
		*p = prefixes
	case *[]int64:
		return parseEach(p, items)
	case *[]float64:
		return parseEach(p, items)
	default:
		panic(fmt.Sprintf("config: no list parser for %T", p))
	}
	return nil
}

// parseEach sets the list p points to from its items, each parsed as a single value.
func parseEach[T any](p *[]T, items []string) error {
	values := make([]T, len(items))
	for i, item := range items {
		if err := parse(&values[i], item); err != nil {
			return err
		}
	}
	*p = values
	return nil
}

// parsePrefix parses a CIDR prefix, or a bare IP address as the prefix of just that address.
func parsePrefix(text string) (netip.Prefix, error) {
	if strings.Contains(text, "/") {
		if p, err := netip.ParsePrefix(text); err == nil {
			return p.Masked(), nil
		}
	} else if addr, err := netip.ParseAddr(text); err == nil {
		return netip.PrefixFrom(addr.WithZone(""), addr.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q is not a CIDR prefix or an IP address", text)
}

// format returns the text form of the field p points to, as parse reads it.
func format(p any) string {
	switch p := p.(type) {
	case *string:
		return *p
	case *bool:
		return strconv.FormatBool(*p)
	case *int:
		return strconv.Itoa(*p)
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *time.Duration:
		return p.String()
	case *[]string:
		return strings.Join(*p, ",")
	case *[]netip.Prefix:
		texts := make([]string, len(*p))
		for i, prefix := range *p {
			texts[i] = prefix.String()
		}
		return strings.Join(texts, ",")
	case *[]int64:
		return formatEach(*p)
	case *[]float64:
		return formatEach(*p)
	}
	panic(fmt.Sprintf("config: no formatter for %T", p))
}

// formatEach returns the text form of a list of single values.
func formatEach[T any](values []T) string {
	texts := make([]string, len(values))
	for i := range values {
		texts[i] = format(&values[i])
	}
	return strings.Join(texts, ",")
}

// typeName names the kind of value a flag takes, for the usage.
func typeName(p any) string {
	switch p.(type) {
	case *bool:
		return "bool"
	case *int, *int64:
		return "int"
	case *float64:
		return "number"
	case *time.Duration:
		return "duration"
	case *[]string, *[]netip.Prefix, *[]int64, *[]float64:
		return "list"
	}
	return "string"
}

// writeUsage writes every flag with its environment variable and default.
func writeUsage(w io.Writer) {
	defaults := Default()
	fmt.Fprintf(w, `Usage: duet serve [flags]

Each setting is taken from its flag, else its environment variable, else the YAML
file, else its default. Lists are comma-separated; durations look like 5s or 1m30s.

  --config path
    	YAML file of settings (env %s)
`, configEnv)
	for _, s := range settings {
		p := s.field(&defaults)
		def := format(p)
		if def == "" {
			def = "none"
		}
		fmt.Fprintf(w, "  --%s %s\n    \t%s (env %s, default %s)\n", s.flagName(), typeName(p), s.help, s.envName(), def)
	}
}

// didYouMean suggests the setting nearest to a misspelled key, or says nothing when none is.
func didYouMean(key string) string {
	if near := nearestKey(key); near != "" {
		return fmt.Sprintf("; did you mean %s?", near)
	}
	return ""
}

// nearestKey returns the setting's key nearest to key, at most two letters changed, added,
// dropped or swapped; "" when none is that near.
func nearestKey(key string) string {
	best, bestDist := "", 3
	for _, s := range settings {
		if d := editDistance(key, s.key); d < bestDist {
			best, bestDist = s.key, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b: the edits (a letter
// changed, added, dropped, or two neighbours swapped) that turn one into the other.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// UnknownEnv returns a warning for each DUET_* variable in environ (KEY=value entries, as
// os.Environ gives them) that names no setting, with the nearest setting's variable if one is
// near. They are warnings, not errors: the environment holds variables of other programs too.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{configEnv: true}
	for _, s := range settings {
		known[s.envName()] = true
	}
	var warnings []string
	for _, entry := range environ {
		name, _, _ := strings.Cut(entry, "=")
		rest, ok := strings.CutPrefix(name, "DUET_")
		if !ok || known[name] {
			continue
		}
		warning := fmt.Sprintf("environment variable %s names no setting", name)
		if near := nearestKey(strings.ToLower(rest)); near != "" {
			warning += fmt.Sprintf("; did you mean DUET_%s?", strings.ToUpper(near))
		}
		warnings = append(warnings, warning)
	}
	return warnings
}
