package main

import "github.com/ringsim/ringsim/job"

// version is ringsim's version (job.Version: the module version, the VCS revision, or
// "devel").
func version() string { return job.Version() }
