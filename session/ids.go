package session

import (
	"fmt"
	"sync"
	"time"

	"github.com/bwmarrin/snowflake"
)

// Id layout: 40 bits of milliseconds since idEpoch (about 34 years), 5 bits of node (32 nodes),
// 8 bits of sequence (256 ids per millisecond per node): 53 bits, so every id is at most 2^53-1
// and survives a browser's JSON.parse.
const (
	idNodeBits = 5
	idStepBits = 8
	// MaxNodeID is the largest node id an IDs generator accepts.
	MaxNodeID = 1<<idNodeBits - 1
)

var idEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// snowflakeSetup guards bwmarrin/snowflake's package-level layout variables, which NewNode reads:
// they are set once, to the same values, before the first node is made.
var snowflakeSetup sync.Once

// IDs issues the ids of accounts, sessions, messages and reports on one node.
type IDs struct {
	node *snowflake.Node
}

// NewIDs returns the generator of node nodeID (0..MaxNodeID), which must be unique among the
// nodes sharing an engine.
func NewIDs(nodeID int64) (*IDs, error) {
	snowflakeSetup.Do(func() {
		snowflake.Epoch = idEpoch.UnixMilli()
		snowflake.NodeBits = idNodeBits
		snowflake.StepBits = idStepBits
	})
	node, err := snowflake.NewNode(nodeID)
	if err != nil {
		return nil, fmt.Errorf("session: id node %d: %w", nodeID, err)
	}
	return &IDs{node: node}, nil
}

// Next returns a new id, greater than every id this generator issued before.
func (g *IDs) Next() int64 { return g.node.Generate().Int64() }
