package vrrpdtest

import "github.com/govrrp/govrrp/vrrp"

// Status is the part of vrrpd's JSON status document that the tests read:
// a subset of the Status type of examples/vrrpd/status.go (package main,
// so not importable), with the same JSON keys. Proc.ReadStatus decodes
// the whole document into a type of the caller's.
type Status struct {
	Instances []InstanceStatus `json:"instances"`
	// Router are the Router-wide counters.
	Router vrrp.RouterStats `json:"router"`
}

// InstanceStatus is one virtual router in Status.
type InstanceStatus struct {
	Name  string `json:"name"`
	VRID  uint8  `json:"vrid"`
	State string `json:"state"` // MASTER, BACKUP, FAULT or STOP
	// Master is the current master's primary address as this router knows
	// it; empty when unknown.
	Master   string     `json:"master,omitempty"`
	Priority uint8      `json:"priority"` // effective priority
	Stats    vrrp.Stats `json:"stats"`
}
