package bridge

import (
	"errors"
	"fmt"
)

// Snapshot is the firmware's state at the aligned boundary: every link aligned and no node
// in its packet phase yet. With a checkpoint of the machine taken at the same cycle it is
// what a run needs to continue from there exactly (Config.Resume): the packet phase starts
// from the boot and alignment results, and the link ends keep the baselines their recovery
// compares against. Nothing of the packet phase exists yet (no stack, no connection), so
// nothing of it needs saving.
type Snapshot struct {
	// Cycle is the machine's cycle at the boundary.
	Cycle uint64 `json:"cycle"`
	// Aligned is when the last link aligned (the "aligned" step).
	Aligned uint64         `json:"aligned_cycle"`
	Nodes   []NodeSnapshot `json:"nodes"`
}

// NodeSnapshot is one node's firmware at the boundary.
type NodeSnapshot struct {
	Node      int               `json:"node"`
	Boot      Boot              `json:"boot"`
	Alignment Alignment         `json:"alignment"`
	Links     []AlignerSnapshot `json:"links"`
}

// AlignerSnapshot is one link end's alignment state.
type AlignerSnapshot struct {
	Port    int                 `json:"port"`
	Phase   Phase               `json:"phase"`
	Offset  int                 `json:"offset"`
	Clears  int                 `json:"clears"`
	Scans   int                 `json:"scans"`
	Entered [Aligned + 1]uint64 `json:"entered"`
	Seen    [Aligned + 1]bool   `json:"seen"`
	WatchAC bool                `json:"watch_auto_centre"`
	ACAt    uint32              `json:"auto_centre_total"`
	ACSeen  uint64              `json:"auto_centre_read_cycle"`
	// ParkUGN is the link's UGN capture when the node parked (the recovery's baseline).
	ParkUGN *uint32 `json:"ugn_local_at_boundary,omitempty"`
}

// ErrBadSnapshot: a snapshot that does not fit the run it is resumed into.
var ErrBadSnapshot = errors.New("bad firmware snapshot")

// BoundaryError says why a run cannot stop at the aligned boundary (to save, resume or
// re-seed there), given each node's firmware profile ("" for a node without links, which
// runs none) and whether the run only aligns; nil if it can. New checks it, and so can a
// caller before it starts anything.
func BoundaryError(profiles []Profile, alignOnly bool) error {
	if alignOnly {
		return fmt.Errorf("%w: a run without a packet phase has no aligned boundary to save, resume or re-seed at", ErrBadConfig)
	}
	for n, p := range profiles {
		if p != "" && p != Ringsim {
			return fmt.Errorf("%w: the aligned boundary (saving, resuming, a run seed) needs ringsim's firmware on every node (node %d runs %s)",
				ErrBadConfig, n, p)
		}
	}
	return nil
}

// snapshot records every node's firmware state; the nodes are all parked at the boundary.
func (rt *Runtime) snapshot() Snapshot {
	s := Snapshot{Cycle: rt.now(), Aligned: rt.steps["aligned"]}
	for _, n := range rt.nodes {
		if len(n.links) == 0 {
			continue
		}
		ns := NodeSnapshot{Node: n.id, Boot: *n.boot, Alignment: *n.alignment}
		for _, l := range n.links {
			a := l.al
			ns.Links = append(ns.Links, AlignerSnapshot{Port: l.ep.Port, Phase: a.phase, Offset: a.offset, Clears: a.clears,
				Scans: a.scans, Entered: a.entered, Seen: a.seen, WatchAC: a.watchAC, ACAt: a.acAt, ACSeen: a.acSeen,
				ParkUGN: l.parkUGN})
		}
		s.Nodes = append(s.Nodes, ns)
	}
	return s
}

// resume puts the snapshot's state back into the nodes and link ends, checking that it
// belongs to this run's nodes and links.
func (rt *Runtime) resume(s *Snapshot) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadSnapshot}, a...)...)
	}
	if s.Cycle != rt.now() {
		return bad("taken at cycle %d, the machine is at cycle %d", s.Cycle, rt.now())
	}
	byNode := map[int]NodeSnapshot{}
	for _, ns := range s.Nodes {
		byNode[ns.Node] = ns
	}
	for _, n := range rt.nodes {
		if len(n.links) == 0 {
			continue
		}
		ns, ok := byNode[n.id]
		if !ok || len(ns.Links) != len(n.links) || len(ns.Alignment.Links) != len(n.links) {
			return bad("node %d: no state, or not for its %d link(s)", n.id, len(n.links))
		}
		b, al := ns.Boot, ns.Alignment
		n.boot, n.alignment = &b, &al
		for i, l := range n.links {
			a := ns.Links[i]
			if a.Port != l.ep.Port || a.Phase != Aligned {
				return bad("node %d: link end %d is port %d in %v, want port %d aligned", n.id, i, a.Port, a.Phase, l.ep.Port)
			}
			x := l.al
			x.phase, x.offset, x.clears, x.scans, x.entered, x.seen = a.Phase, a.Offset, a.Clears, a.Scans, a.Entered, a.Seen
			x.watchAC, x.acAt, x.acSeen = a.WatchAC, a.ACAt, a.ACSeen
			l.parkUGN = a.ParkUGN
		}
	}
	rt.mark("aligned", s.Aligned, "")
	return nil
}
