package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env returns a getenv that reads vars.
func env(vars map[string]string) func(string) string {
	return func(key string) string { return vars[key] }
}

// writeFile writes content to a YAML file in a fresh directory and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "duet.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefault(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v, want nil", err)
	}
	got, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatalf("Load with nothing set: %v", err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Load with nothing set = %+v, want Default() = %+v", got, want)
	}
}

// Every field of Config has exactly one setting.
func TestSettingsCoverConfig(t *testing.T) {
	var c Config
	keys := make(map[uintptr]string) // field address -> key
	for _, s := range settings {
		addr := reflect.ValueOf(s.field(&c)).Pointer()
		if key, ok := keys[addr]; ok {
			t.Errorf("settings %s and %s share a field", key, s.key)
		}
		keys[addr] = s.key
	}
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		if _, ok := keys[v.Field(i).Addr().Pointer()]; !ok {
			t.Errorf("field %s has no setting", v.Type().Field(i).Name)
		}
	}
}

// Every setting's text form, as shown in the usage, reads back as the same value.
func TestFormatParse(t *testing.T) {
	want := Default()
	want.AllowedOrigins = []string{"https://a.example", "http://b.example:8080"}
	want.RateLimitExempt = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, s := range settings {
		t.Run(s.key, func(t *testing.T) {
			var got Config
			text := format(s.field(&want))
			if err := parse(s.field(&got), text); err != nil {
				t.Fatalf("parse(%q): %v", text, err)
			}
			if g, w := s.field(&got), s.field(&want); !reflect.DeepEqual(g, w) {
				t.Errorf("parse(format(%v)) = %v", w, g)
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	prefixes := func(texts ...string) []netip.Prefix {
		ps := make([]netip.Prefix, len(texts))
		for i, text := range texts {
			ps[i] = netip.MustParsePrefix(text)
		}
		return ps
	}
	tests := map[string]struct {
		get  func(Config) any
		file string            // a line of the YAML file
		env  map[string]string // the environment
		flag string            // a flag argument
		// want is the value from, in turn: the default, the file, the environment, the flag.
		want [4]any
	}{
		"duration": {
			get:  func(c Config) any { return c.PingInterval },
			file: "ping_interval: 2s",
			env:  map[string]string{"DUET_PING_INTERVAL": "3s"},
			flag: "--ping-interval=4s",
			want: [4]any{5 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second},
		},
		"bool, its flag standing alone": {
			get:  func(c Config) any { return c.DistinctClients },
			file: "distinct_clients: true",
			env:  map[string]string{"DUET_DISTINCT_CLIENTS": "false"},
			flag: "--distinct-clients",
			want: [4]any{false, true, false, true},
		},
		"int": {
			get:  func(c Config) any { return c.MaxSessions },
			file: "max_sessions: 4",
			env:  map[string]string{"DUET_MAX_SESSIONS": "5"},
			flag: "--max-sessions=6",
			want: [4]any{3, 4, 5, 6},
		},
		"float": {
			get:  func(c Config) any { return c.Dialogue.Rate },
			file: "dialogue_rate: 0.5",
			env:  map[string]string{"DUET_DIALOGUE_RATE": "1.5"},
			flag: "--dialogue-rate=2.5",
			want: [4]any{5.0, 0.5, 1.5, 2.5},
		},
		"string": {
			get:  func(c Config) any { return c.Listen },
			file: `listen: "127.0.0.1:1"`,
			env:  map[string]string{"DUET_LISTEN": "127.0.0.1:2"},
			flag: "--listen=127.0.0.1:3",
			want: [4]any{":8080", "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"},
		},
		"list": {
			get:  func(c Config) any { return c.AllowedOrigins },
			file: "allowed_origins: [https://file.example]",
			env:  map[string]string{"DUET_ALLOWED_ORIGINS": "https://env.example, https://env2.example"},
			flag: "--allowed-origins=https://flag.example",
			want: [4]any{[]string(nil), []string{"https://file.example"},
				[]string{"https://env.example", "https://env2.example"}, []string{"https://flag.example"}},
		},
		"cidr list": {
			get:  func(c Config) any { return c.RateLimitExempt },
			file: "rate_limit_exempt: [10.1.2.3/8, 127.0.0.1]",
			env:  map[string]string{"DUET_RATE_LIMIT_EXEMPT": "192.168.0.0/16,::1"},
			flag: "--rate-limit-exempt=fd00::/8",
			want: [4]any{[]netip.Prefix(nil), prefixes("10.0.0.0/8", "127.0.0.1/32"),
				prefixes("192.168.0.0/16", "::1/128"), prefixes("fd00::/8")},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, tt.file+"\n")
			layers := []struct {
				name string
				args []string
				env  map[string]string
			}{
				{"default", nil, nil},
				{"file over default", []string{"--config", path}, nil},
				{"env over file", []string{"--config", path}, tt.env},
				{"flag over env", []string{"--config", path, tt.flag}, tt.env},
			}
			for i, l := range layers {
				c, err := Load(l.args, env(l.env), io.Discard)
				if err != nil {
					t.Fatalf("%s: Load: %v", l.name, err)
				}
				if got := tt.get(c); !reflect.DeepEqual(got, tt.want[i]) {
					t.Errorf("%s: got %v, want %v", l.name, got, tt.want[i])
				}
			}
		})
	}
}

func TestConfigFile(t *testing.T) {
	fromEnv := writeFile(t, "max_sessions: 7\n")
	fromFlag := writeFile(t, "max_sessions: 8\n")
	tests := map[string]struct {
		args []string
		env  map[string]string
		want int
	}{
		"DUET_CONFIG":               {env: map[string]string{"DUET_CONFIG": fromEnv}, want: 7},
		"--config":                  {args: []string{"--config", fromFlag}, want: 8},
		"--config over DUET_CONFIG": {args: []string{"--config=" + fromFlag}, env: map[string]string{"DUET_CONFIG": fromEnv}, want: 8},
		"empty file":                {args: []string{"--config", writeFile(t, "# nothing set\n")}, want: 3},
		"null string":               {args: []string{"--config", writeFile(t, "admin_token: ~\n")}, want: 3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := Load(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.MaxSessions != tt.want {
				t.Errorf("MaxSessions = %d, want %d", c.MaxSessions, tt.want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := map[string]struct {
		file string // YAML file passed with --config, if not empty
		env  map[string]string
		args []string
		want string // FILE stands for the file's path
	}{
		"unknown key in file": {
			file: "listen: :9090\nping_intervall: 5s\n",
			want: `config: FILE: line 2: unknown key "ping_intervall"; did you mean ping_interval?`,
		},
		"swapped letters in file": {
			file: "redis_ulr: redis://x:1\n",
			want: `config: FILE: line 1: unknown key "redis_ulr"; did you mean redis_url?`,
		},
		"unknown key far from any": {
			file: "colour: blue\n",
			want: `config: FILE: line 1: unknown key "colour"`,
		},
		"repeated key in file": {
			file: "max_sessions: 2\nmax_sessions: 4\n",
			want: `config: FILE: line 2: max_sessions: repeated`,
		},
		"malformed value in file": {
			file: "listen: :9090\nmax_sessions: lots\n",
			want: `config: FILE: line 2: max_sessions: "lots" is not an integer`,
		},
		"malformed list item in file": {
			file: "rate_limit_exempt:\n  - 10.0.0.0/8\n  - localhost\n",
			want: `config: FILE: line 2: rate_limit_exempt: "localhost" is not a CIDR prefix or an IP address`,
		},
		"scalar for a list in file": {
			file: "allowed_origins: https://duet.example\n",
			want: `config: FILE: line 1: allowed_origins: must be a list`,
		},
		"nested list item in file": {
			file: "allowed_origins: [[https://duet.example]]\n",
			want: `config: FILE: line 1: allowed_origins: item 1 must be a single value`,
		},
		"list for a scalar in file": {
			file: "listen: [a, b]\n",
			want: `config: FILE: line 1: listen: must be a single value`,
		},
		"file not a mapping": {
			file: "- listen\n",
			want: `config: FILE: line 1: want a mapping of settings`,
		},
		"file not YAML": {
			file: "listen: [\n",
			want: `config: FILE: yaml: line 1: did not find expected node content`,
		},
		"malformed int in env": {
			env:  map[string]string{"DUET_MAX_SESSIONS": "abc"},
			want: `config: DUET_MAX_SESSIONS (max_sessions): "abc" is not an integer`,
		},
		"malformed int64 in env": {
			env:  map[string]string{"DUET_READ_LIMIT": "16k"},
			want: `config: DUET_READ_LIMIT (read_limit): "16k" is not an integer`,
		},
		"malformed duration in env": {
			env:  map[string]string{"DUET_PING_INTERVAL": "5"},
			want: `config: DUET_PING_INTERVAL (ping_interval): "5" is not a duration like 5s or 1m30s`,
		},
		"malformed number in env": {
			env:  map[string]string{"DUET_MATCH_RATE": "fast"},
			want: `config: DUET_MATCH_RATE (match_rate): "fast" is not a number`,
		},
		"malformed cidr in env": {
			env:  map[string]string{"DUET_RATE_LIMIT_EXEMPT": "127.0.0.0/8,10.0.0.0/33"},
			want: `config: DUET_RATE_LIMIT_EXEMPT (rate_limit_exempt): "10.0.0.0/33" is not a CIDR prefix or an IP address`,
		},
		"malformed flag": {
			args: []string{"--typing-burst", "ten"},
			want: `config: --typing-burst (typing_burst): "ten" is not an integer`,
		},
		"unknown flag": {
			args: []string{"--nope"},
			want: `config: flag provided but not defined: -nope`,
		},
		"argument": {
			args: []string{"--listen=:1", "serve"},
			want: `config: unexpected argument "serve"`,
		},
		"invalid after loading": {
			env:  map[string]string{"DUET_PING_INTERVAL": "-1s"},
			want: `config: ping_interval: must be positive, got "-1s"`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			args, want := tt.args, tt.want
			if tt.file != "" {
				path := writeFile(t, tt.file)
				args = append([]string{"--config", path}, args...)
				want = strings.ReplaceAll(want, "FILE", path)
			}
			_, err := Load(args, env(tt.env), io.Discard)
			if err == nil || err.Error() != want {
				t.Errorf("Load error = %v\nwant %s", err, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(nil, env(map[string]string{"DUET_CONFIG": path}), io.Discard)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("Load error = %v, want a not-exist error naming %s", err, path)
	}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		change func(*Config)
		want   string // "" for valid
	}{
		"listen without port":  {func(c *Config) { c.Listen = "8080" }, `config: listen: must be host:port, got "8080"`},
		"listen with host":     {func(c *Config) { c.Listen = "127.0.0.1:0" }, ""},
		"tls files":            {func(c *Config) { c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, ""},
		"tls_cert without key": {func(c *Config) { c.TLSCert = "c.pem" }, `config: tls_key: must be set with tls_cert`},
		"tls_key without cert": {func(c *Config) { c.TLSKey = "k.pem" }, `config: tls_cert: must be set with tls_key`},
		"autocert": {func(c *Config) {
			c.TLSAutocertDomains, c.TLSAutocertEmail, c.HTTPListen = []string{"duet.example", "www.duet.example"}, "ops@duet.example", ":80"
		}, ""},
		"autocert and files": {func(c *Config) {
			c.TLSCert, c.TLSKey, c.TLSAutocertDomains = "c.pem", "k.pem", []string{"duet.example"}
		},
			`config: tls_autocert_domains: cannot be used with tls_cert and tls_key: the certificate comes from one or the other`},
		"autocert wildcard": {func(c *Config) { c.TLSAutocertDomains = []string{"*.duet.example"} },
			`config: tls_autocert_domains: must hold domain names like duet.example (no scheme, port or wildcard), got "*.duet.example"`},
		"autocert with scheme": {func(c *Config) { c.TLSAutocertDomains = []string{"https://duet.example"} },
			`config: tls_autocert_domains: must hold domain names like duet.example (no scheme, port or wildcard), got "https://duet.example"`},
		"autocert without cache": {func(c *Config) { c.TLSAutocertDomains, c.TLSAutocertCache = []string{"duet.example"}, "" },
			`config: tls_autocert_cache: must name a directory when tls_autocert_domains is set`},
		"autocert email":     {func(c *Config) { c.TLSAutocertEmail = "ops" }, `config: tls_autocert_email: must be an email address, got "ops"`},
		"site name long":     {func(c *Config) { c.SiteName = strings.Repeat("x", 61) }, `config: site_name: must be at most 60 characters on one line, got "` + strings.Repeat("x", 61) + `"`},
		"site name newline":  {func(c *Config) { c.SiteName = "Night\nOwls" }, `config: site_name: must be at most 60 characters on one line, got "Night\nOwls"`},
		"site contact":       {func(c *Config) { c.SiteContact = "call us" }, `config: site_contact: must be an email address or an http(s) URL, got "call us"`},
		"site abuse":         {func(c *Config) { c.SiteAbuse = "ftp://x.example" }, `config: site_abuse: must be an email address or an http(s) URL, got "ftp://x.example"`},
		"autocert directory": {func(c *Config) { c.TLSAutocertDirectory = "http://ca.example/dir" }, `config: tls_autocert_directory: must be an https URL, got "http://ca.example/dir"`},
		"http_listen without tls": {func(c *Config) { c.HTTPListen = ":80" },
			`config: http_listen: needs TLS on listen (tls_cert and tls_key, or tls_autocert_domains): it redirects to https`},
		"http_listen bad":             {func(c *Config) { c.TLSCert, c.TLSKey, c.HTTPListen = "c.pem", "k.pem", "80" }, `config: http_listen: must be empty or host:port, got "80"`},
		"engine unknown":              {func(c *Config) { c.Engine = "x" }, `config: engine: unknown engine "x" (supported: memory, redis)`},
		"redis_url empty":             {func(c *Config) { c.RedisURL = "" }, `config: redis_url: must not be empty`},
		"redis_prefix with a brace":   {func(c *Config) { c.RedisPrefix = "a{b" }, `config: redis_prefix: must not contain braces or white space, got "a{b"`},
		"redis_timeout zero":          {func(c *Config) { c.RedisTimeout = 0 }, `config: redis_timeout: must be positive, got "0s"`},
		"max_connections negative":    {func(c *Config) { c.MaxConnections = -1 }, `config: max_connections: must be 0 (from the open-file limit) or more, got "-1"`},
		"drain_delay negative":        {func(c *Config) { c.DrainDelay = -time.Second }, `config: drain_delay: must not be negative, got "-1s"`},
		"drain_spread negative":       {func(c *Config) { c.DrainSpread = -time.Second }, `config: drain_spread: must not be negative, got "-1s"`},
		"shutdown_timeout short":      {func(c *Config) { c.ShutdownTimeout = 15 * time.Second }, `config: shutdown_timeout: must be more than drain_delay + drain_spread (15s), which it covers, got "15s"`},
		"admin_token_tries zero":      {func(c *Config) { c.AdminTokenTries = 0 }, `config: admin_token_tries: must be at least 1, got "0"`},
		"admin_token_wait zero":       {func(c *Config) { c.AdminTokenWait = 0 }, `config: admin_token_wait: must be positive, got "0s"`},
		"redis_wait negative":         {func(c *Config) { c.RedisWait = -time.Second }, `config: redis_wait: must not be negative, got "-1s"`},
		"redis_min_replicas negative": {func(c *Config) { c.RedisMinReplicas = -1 }, `config: redis_min_replicas: must not be negative, got "-1"`},
		"redis_replica_timeout zero":  {func(c *Config) { c.RedisReplicaTimeout = 0 }, `config: redis_replica_timeout: must be positive, got "0s"`},
		"redis_replica_timeout long": {func(c *Config) { c.RedisMinReplicas, c.RedisReplicaTimeout = 1, time.Second },
			`config: redis_replica_timeout: must be less than redis_timeout (1s), which bounds the wait for its reply, when redis_min_replicas is set, got "1s"`},
		"redis_replica_timeout long unused": {func(c *Config) { c.RedisReplicaTimeout = time.Second }, ""},
		"ping_interval negative":            {func(c *Config) { c.PingInterval = -time.Second }, `config: ping_interval: must be positive, got "-1s"`},
		"ping_interval zero":                {func(c *Config) { c.PingInterval = 0 }, `config: ping_interval: must be positive, got "0s"`},
		"presence_timeout twice":            {func(c *Config) { c.PresenceTimeout = 10 * time.Second }, `config: presence_timeout: must be more than twice ping_interval (5s), got "10s"`},
		"presence_timeout above":            {func(c *Config) { c.PresenceTimeout = 10*time.Second + 1 }, ""},
		"max_sessions zero":                 {func(c *Config) { c.MaxSessions = 0 }, `config: max_sessions: must be at least 1, got "0"`},
		"max_content zero":                  {func(c *Config) { c.MaxContent = 0 }, `config: max_content: must be 1 to 100000, got "0"`},
		"max_content too big":               {func(c *Config) { c.MaxContent = 100_001 }, `config: max_content: must be 1 to 100000, got "100001"`},
		"max_content largest": {func(c *Config) {
			c.MaxContent, c.Content.Burst, c.AddressContent.Burst = 100_000, 100_000, 100_000
		}, ""},
		"address_content_burst below max_content": {func(c *Config) { c.AddressContent.Burst = c.MaxContent - 1 },
			`config: address_content_burst: must be at least max_content (2000), so that the longest message can be sent, got "1999"`},
		"address_share zero": {func(c *Config) { c.AddressShare = 0 }, `config: address_share: must be positive, got "0s"`},
		"content_burst below max_content": {func(c *Config) { c.Content.Burst = c.MaxContent - 1 },
			`config: content_burst: must be at least max_content (2000), so that the longest message can be sent, got "1999"`},
		"address_secret short":       {func(c *Config) { c.AddressSecret = "short" }, `config: address_secret: must be empty or at least 16 characters, got 5`},
		"max_nickname zero":          {func(c *Config) { c.MaxNickname = 0 }, `config: max_nickname: must be 1 to 200, got "0"`},
		"max_nickname too big":       {func(c *Config) { c.MaxNickname = 201 }, `config: max_nickname: must be 1 to 200, got "201"`},
		"history_size zero":          {func(c *Config) { c.HistorySize = 0 }, `config: history_size: must be at least 1, got "0"`},
		"history_retention negative": {func(c *Config) { c.HistoryRetention = -time.Minute }, `config: history_retention: must not be negative, got "-1m0s"`},
		"history_retention zero":     {func(c *Config) { c.HistoryRetention = 0 }, ""},
		"backlog_size zero":          {func(c *Config) { c.BacklogSize = 0 }, `config: backlog_size: must be at least 1, got "0"`},
		"allowed_origins with path": {
			func(c *Config) { c.AllowedOrigins = []string{"https://duet.example", "https://duet.example/chat"} },
			`config: allowed_origins: must hold origins like https://duet.example (scheme and host only), got "https://duet.example/chat"`,
		},
		"allowed_origins host only": {
			func(c *Config) { c.AllowedOrigins = []string{"duet.example"} },
			`config: allowed_origins: must hold origins like https://duet.example (scheme and host only), got "duet.example"`,
		},
		"allowed_origins with port": {func(c *Config) { c.AllowedOrigins = []string{"http://localhost:5173"} }, ""},
		"admin_token short": {
			func(c *Config) { c.AdminToken = "secret" },
			`config: admin_token: must be empty or at least 16 characters, got 6`,
		},
		"admin_token long enough": {func(c *Config) { c.AdminToken = strings.Repeat("é", 16) }, ""},
		"rate_limit_exempt zero prefix": {
			func(c *Config) { c.RateLimitExempt = []netip.Prefix{{}} },
			`config: rate_limit_exempt: must hold valid CIDR prefixes`,
		},
		"max_combining_marks zero":      {func(c *Config) { c.MaxCombiningMarks = 0 }, `config: max_combining_marks: must be 1 to 100, got "0"`},
		"http_timeout zero":             {func(c *Config) { c.HTTPTimeout = 0 }, `config: http_timeout: must be positive, got "0s"`},
		"http_idle_timeout zero":        {func(c *Config) { c.HTTPIdleTimeout = 0 }, `config: http_idle_timeout: must be positive, got "0s"`},
		"address_http_connections zero": {func(c *Config) { c.AddressHTTPConnections = 0 }, `config: address_http_connections: must be at least 1, got "0"`},
		"read_limit too small":          {func(c *Config) { c.ReadLimit = 255 }, `config: read_limit: must be 256 to 16777216, got "255"`},
		"read_limit too big":            {func(c *Config) { c.ReadLimit = 16<<20 + 1 }, `config: read_limit: must be 256 to 16777216, got "16777217"`},
		"read_limit bounds":             {func(c *Config) { c.ReadLimit = 256 }, ""},
		"send_queue_bytes small":        {func(c *Config) { c.SendQueueBytes = 1000 }, `config: send_queue_bytes: must be at least 1024, got "1000"`},
		"write_timeout zero":            {func(c *Config) { c.WriteTimeout = 0 }, `config: write_timeout: must be positive, got "0s"`},
		"dialogue_rate zero":            {func(c *Config) { c.Dialogue.Rate = 0 }, `config: dialogue_rate: must be positive, got "0"`},
		"dialogue_burst zero":           {func(c *Config) { c.Dialogue.Burst = 0 }, `config: dialogue_burst: must be at least 1, got "0"`},
		"match_rate negative":           {func(c *Config) { c.Match.Rate = -0.5 }, `config: match_rate: must be positive, got "-0.5"`},
		"match_burst zero":              {func(c *Config) { c.Match.Burst = 0 }, `config: match_burst: must be at least 1, got "0"`},
		"typing_rate zero":              {func(c *Config) { c.Typing.Rate = 0 }, `config: typing_rate: must be positive, got "0"`},
		"typing_burst zero":             {func(c *Config) { c.Typing.Burst = 0 }, `config: typing_burst: must be at least 1, got "0"`},
		"bad_frame_limit zero":          {func(c *Config) { c.BadFrameLimit = 0 }, `config: bad_frame_limit: must be 1 to 1000, got "0"`},
		"bad_frame_limit too big":       {func(c *Config) { c.BadFrameLimit = 1001 }, `config: bad_frame_limit: must be 1 to 1000, got "1001"`},
		"bad_frame_window zero":         {func(c *Config) { c.BadFrameWindow = 0 }, `config: bad_frame_window: must be positive, got "0s"`},
		"interest_wait negative":        {func(c *Config) { c.InterestWait = -time.Second }, `config: interest_wait: must not be negative, got "-1s"`},
		"interest_wait zero":            {func(c *Config) { c.InterestWait = 0 }, ""},
		"partner_cooldown negative":     {func(c *Config) { c.PartnerCooldown = -time.Second }, `config: partner_cooldown: must not be negative, got "-1s"`},
		"typing_timeout zero":           {func(c *Config) { c.TypingTimeout = 0 }, `config: typing_timeout: must be positive, got "0s"`},
		"shutdown_timeout zero":         {func(c *Config) { c.ShutdownTimeout = 0 }, `config: shutdown_timeout: must be more than drain_delay + drain_spread (15s), which it covers, got "0s"`},
		"log_format unknown":            {func(c *Config) { c.LogFormat = "xml" }, `config: log_format: must be text or json, got "xml"`},
		"log_format json":               {func(c *Config) { c.LogFormat = "json" }, ""},
		"log_level unknown":             {func(c *Config) { c.LogLevel = "verbose" }, `config: log_level: must be debug, info, warn or error, got "verbose"`},
		"log_repeat_interval negative":  {func(c *Config) { c.LogRepeatInterval = -time.Second }, `config: log_repeat_interval: must not be negative, got "-1s"`},
		"log_level debug":               {func(c *Config) { c.LogLevel = "debug" }, ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate() = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		t.Run(arg, func(t *testing.T) {
			var usage bytes.Buffer
			_, err := Load([]string{arg}, env(nil), &usage)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("Load(%s) error = %v, want flag.ErrHelp", arg, err)
			}
			got := usage.String()
			wants := []string{
				"--config path\n    \tYAML file of settings (env DUET_CONFIG)",
				"--ping-interval duration\n    \ttime between server PINGs on a connection (env DUET_PING_INTERVAL, default 5s)",
				"--admin-token string\n    \tbearer token of the admin API, at least 16 characters; empty: admin API off (env DUET_ADMIN_TOKEN, default none)",
			}
			for _, s := range settings {
				wants = append(wants, "--"+s.flagName()+" ", "(env "+s.envName()+", default ")
			}
			for _, want := range wants {
				if !strings.Contains(got, want) {
					t.Errorf("usage lacks %q; usage:\n%s", want, got)
				}
			}
		})
	}
}

// docs/configuration.md lists every setting, in order, with its names and default.
func TestDocs(t *testing.T) {
	data, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows [][]string
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "| `") {
			cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
			for i := range cells {
				cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
			}
			rows = append(rows, cells)
		}
	}
	if len(rows) != len(settings) {
		t.Fatalf("docs list %d settings, want %d", len(rows), len(settings))
	}
	defaults := Default()
	for i, s := range settings {
		row := rows[i]
		if got, want := row[:3], []string{s.key, s.envName(), "--" + s.flagName()}; !reflect.DeepEqual(got, want) {
			t.Errorf("docs row %d = %q, want %q", i+1, got, want)
			continue
		}
		text := row[3]
		if text == "none" {
			text = ""
		}
		var documented Config
		if err := parse(s.field(&documented), text); err != nil {
			t.Errorf("docs default of %s: %v", s.key, err)
		} else if got, want := s.field(&documented), s.field(&defaults); !reflect.DeepEqual(got, want) {
			t.Errorf("docs default of %s = %q, want %q", s.key, row[3], format(want))
		}
	}

	_, example, ok := strings.Cut(string(data), "```yaml\n")
	example, _, _ = strings.Cut(example, "```")
	if !ok {
		t.Fatal("docs have no YAML example")
	}
	if _, err := Load([]string{"--config", writeFile(t, example)}, env(nil), io.Discard); err != nil {
		t.Errorf("docs example: %v", err)
	}
}

// docs/privacy.md states the retention defaults that the code has.
func TestPrivacyDocs(t *testing.T) {
	data, err := os.ReadFile("../docs/privacy.md")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]setting{}
	for _, s := range settings {
		byKey[s.key] = s
	}
	defaults, checked := Default(), 0
	for line := range strings.Lines(string(data)) {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), " | ")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 4 || !strings.HasPrefix(cells[3], "`") {
			continue
		}
		key := cells[2]
		if _, k, ok := strings.Cut(key, ": "); ok { // "set per ban; automatic cooling-off: `cooloff`"
			key = k
		}
		s, ok := byKey[strings.Trim(key, "`")]
		if !ok {
			t.Errorf("privacy.md names %s, which is not a setting", cells[2])
			continue
		}
		var documented Config
		if err := parse(s.field(&documented), strings.Trim(cells[3], "`")); err != nil {
			t.Errorf("privacy.md: default of %s: %v", s.key, err)
		} else if got, want := s.field(&documented), s.field(&defaults); !reflect.DeepEqual(got, want) {
			t.Errorf("privacy.md: %s defaults to %s, but the code's default is %s", s.key, cells[3], format(want))
		}
		checked++
	}
	if checked < 7 {
		t.Errorf("privacy.md: checked %d retention rows, want 7", checked)
	}
}

// TestUnknownEnv: a misspelled DUET_* variable is warned of with the nearest one; others,
// and variables of other programs, are not.
func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{"DUET_REDIS_ULR=redis://x:1", "DUET_COLOUR=blue", "DUET_LISTEN=:1", "DUET_CONFIG=a.yaml", "HOME=/root", "PATH=/bin"})
	want := []string{
		"environment variable DUET_REDIS_ULR names no setting; did you mean DUET_REDIS_URL?",
		"environment variable DUET_COLOUR names no setting",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UnknownEnv = %q, want %q", got, want)
	}
}
