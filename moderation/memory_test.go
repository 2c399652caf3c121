package moderation_test

import (
	"net/netip"
	"testing"

	"github.com/duetchat/duet/moderation"
	"github.com/duetchat/duet/moderation/moderationtest"
)

func TestMemoryStore(t *testing.T) {
	moderationtest.Run(t, func(*testing.T) moderation.Store { return moderation.NewMemoryStore(moderationtest.AuditSize) })
}

func TestHasher(t *testing.T) {
	h := moderation.NewHasher([]byte("secret"))
	a := h.Client(netip.MustParseAddr("192.0.2.10"))
	tests := []struct {
		name        string
		addr        string
		sameAddr    bool
		sameNetwork bool
	}{
		{"the same address", "192.0.2.10", true, true},
		{"the same address, IPv4-mapped", "::ffff:192.0.2.10", true, true},
		{"another address in the /24", "192.0.2.200", false, true},
		{"the next /24", "192.0.3.10", false, false},
	}
	for _, tt := range tests {
		b := h.Client(netip.MustParseAddr(tt.addr))
		if (a.Addr == b.Addr) != tt.sameAddr || (a.Network == b.Network) != tt.sameNetwork {
			t.Errorf("%s: %+v vs %+v; want same address %v, same network %v", tt.name, a, b, tt.sameAddr, tt.sameNetwork)
		}
	}
	v6 := h.Client(netip.MustParseAddr("2001:db8:1:2::1"))
	if other := h.Client(netip.MustParseAddr("2001:db8:1:2:ffff::9")); other.Network != v6.Network || other.Addr == v6.Addr {
		t.Errorf("two addresses in one IPv6 /64: %+v vs %+v; want one network, two addresses", v6, other)
	}
	if other := moderation.NewHasher([]byte("another secret")).Client(netip.MustParseAddr("192.0.2.10")); other == a {
		t.Error("two secrets hash an address alike; the hash must depend on the secret")
	}
	if got := h.Client(netip.Addr{}); got != (moderation.Client{}) {
		t.Errorf("Client of no address = %+v; want empty hashes", got)
	}
}

func TestTargetValidate(t *testing.T) {
	hash := moderation.NewHasher(nil).Client(netip.MustParseAddr("192.0.2.1")).Addr
	tests := []struct {
		target moderation.Target
		ok     bool
	}{
		{moderation.AccountTarget(42), true},
		{moderation.Target{Kind: moderation.KindAddress, Value: hash}, true},
		{moderation.Target{Kind: moderation.KindNetwork, Value: hash}, true},
		{moderation.Target{Kind: moderation.KindAccount, Value: "-1"}, false},
		{moderation.Target{Kind: moderation.KindAccount, Value: "ann"}, false},
		{moderation.Target{Kind: moderation.KindAddress, Value: "192.0.2.1"}, false},
		{moderation.Target{Kind: "planet", Value: hash}, false},
	}
	for _, tt := range tests {
		if err := tt.target.Validate(); (err == nil) != tt.ok {
			t.Errorf("Validate(%v) = %v; want ok %v", tt.target, err, tt.ok)
		}
	}
}
