package match_test

import (
	"testing"
	"time"

	"github.com/duetchat/duet/match"
)

func TestCooldown(t *testing.T) {
	tests := map[string]struct {
		rule   match.Rule
		others int
		want   time.Duration
	}{
		"alone":                    {match.Rule{PartnerCooldown: time.Minute, CooldownQueue: 10}, 0, 0},
		"a few waiting":            {match.Rule{PartnerCooldown: time.Minute, CooldownQueue: 10}, 3, 18 * time.Second},
		"as many as CooldownQueue": {match.Rule{PartnerCooldown: time.Minute, CooldownQueue: 10}, 10, time.Minute},
		"more than CooldownQueue":  {match.Rule{PartnerCooldown: time.Minute, CooldownQueue: 10}, 500, time.Minute},
		"rounded down to the ms":   {match.Rule{PartnerCooldown: time.Minute, CooldownQueue: 7}, 3, 25714 * time.Millisecond},
		"no CooldownQueue":         {match.Rule{PartnerCooldown: time.Minute}, 0, time.Minute},
		"no cooldown":              {match.Rule{CooldownQueue: 10}, 5, 0},
		"below a millisecond":      {match.Rule{PartnerCooldown: 1500 * time.Microsecond, CooldownQueue: 1}, 1, time.Millisecond},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tt.rule.Cooldown(tt.others); got != tt.want {
				t.Errorf("%+v.Cooldown(%d) = %v, want %v", tt.rule, tt.others, got, tt.want)
			}
		})
	}
}
