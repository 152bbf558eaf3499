package fleet

// PreparedHost is a Host that can keep what it prepared for a plan across
// a restart of its process (cutover serve's controller records it). The
// agent takes those plans up when it starts, as if Prepare had just
// returned for them: the fleet's state, once read, commits or undoes each
// like any prepared plan.
type PreparedHost interface {
	Host
	// Prepared lists the plans the host holds prepared (ID, Service and
	// Version set), each waiting for Commit or Abort.
	Prepared() []Plan
}

// resumePrepared records the plans the host kept prepared across a
// restart, so reconcile decides them: committed, this host switches to
// what it prepared (and acknowledges while the deploy is open); aborted or
// superseded, it removes them.
func (a *Agent) resumePrepared() {
	ph, ok := a.host.(PreparedHost)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ph.Prepared() {
		a.plans[p.ID] = &localPlan{plan: p, status: planPrepared}
		a.log.Info("took up a plan prepared before a restart", "deploy", p.ID, "service", p.Service, "version", p.Version)
	}
}

// endedWithoutLocked settles a plan of this host whose deploy ended
// without hearing from it (finalized while this host was cut off or
// restarting, or already removed from the store). What it prepared for the
// version the fleet committed is kept: the plan is forgotten and
// convergence switches to it (Host.Converge uses instances prepared for
// the version). Anything else is undone.
func (a *Agent) endedWithoutLocked(lp *localPlan, fs *fleetState) {
	if act, ok := fs.actives[lp.plan.Service]; ok && lp.status == planPrepared && act.Version == lp.plan.Version {
		delete(a.plans, lp.plan.ID)
		return
	}
	a.abortLocked(lp, "the deploy ended while this host was out of touch")
}
