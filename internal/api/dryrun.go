package api

import (
	"net/http"

	"github.com/metricsd/metricsd/internal/catalog"
)

// Dry runs (a metricsd extension): DELETE and PATCH of a metric or metric
// group with ?dryRun=true run every check of the real request and answer
// what it would do, changing nothing and recording nothing in the audit
// log.

// dryRun reads the dryRun query parameter.
func dryRun(r *http.Request) (bool, error) {
	switch v := r.URL.Query().Get("dryRun"); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, invalid("dryRun must be true or false, not %q", v)
	}
}

type blockerRep struct {
	Kind           string `json:"kind"`
	Key            string `json:"key"`
	EnvironmentKey string `json:"environmentKey,omitempty"`
	Status         string `json:"status,omitempty"`
}

// deleteDryRunRep answers a DELETE dry run: whether the delete would
// succeed and, if not, what keeps the resource.
type deleteDryRunRep struct {
	Deletable bool         `json:"deletable"`
	Blockers  []blockerRep `json:"blockers"`
}

func newDeleteDryRunRep(bs []catalog.Blocker) deleteDryRunRep {
	rep := deleteDryRunRep{Deletable: len(bs) == 0, Blockers: []blockerRep{}}
	for _, b := range bs {
		rep.Blockers = append(rep.Blockers, blockerRep(b))
	}
	return rep
}

// impactRep lists what an edit would affect.
type impactRep struct {
	RunningExperiments    []dependentExperiment `json:"runningExperiments"`
	ActiveGuardedRollouts []dependentRollout    `json:"activeGuardedRollouts"`
}

func newImpactRep(im *catalog.Impact) impactRep {
	rep := impactRep{RunningExperiments: []dependentExperiment{}, ActiveGuardedRollouts: []dependentRollout{}}
	if im == nil {
		return rep
	}
	for _, e := range im.RunningExperiments {
		rep.RunningExperiments = append(rep.RunningExperiments, newExperimentRep(e))
	}
	for _, g := range im.ActiveGuardedRollouts {
		rep.ActiveGuardedRollouts = append(rep.ActiveGuardedRollouts, newRolloutRep(g))
	}
	return rep
}

type metricPatchDryRunRep struct {
	Metric metricRep `json:"metric"`
	impactRep
}

type groupPatchDryRunRep struct {
	MetricGroup metricGroupRep `json:"metricGroup"`
	impactRep
}

func (s *Server) deleteMetricDryRun(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.svc.Metrics.DeleteMetricDryRun(r.Context(), r.PathValue("projectKey"), r.PathValue("metricKey"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newDeleteDryRunRep(bs))
	return nil
}

func (s *Server) deleteMetricGroupDryRun(w http.ResponseWriter, r *http.Request) error {
	bs, err := s.svc.Groups.DeleteMetricGroupDryRun(r.Context(), r.PathValue("projectKey"), r.PathValue("metricGroupKey"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newDeleteDryRunRep(bs))
	return nil
}

func (s *Server) patchMetricDryRun(w http.ResponseWriter, r *http.Request, body []byte) error {
	m, im, err := s.svc.Metrics.PatchMetricDryRun(r.Context(), r.PathValue("projectKey"), r.PathValue("metricKey"), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, metricPatchDryRunRep{Metric: newMetricRep(m, nil, nil), impactRep: newImpactRep(im)})
	return nil
}

func (s *Server) patchMetricGroupDryRun(w http.ResponseWriter, r *http.Request, body []byte) error {
	g, im, err := s.svc.Groups.PatchMetricGroupDryRun(r.Context(), r.PathValue("projectKey"), r.PathValue("metricGroupKey"), body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupPatchDryRunRep{MetricGroup: newGroupRep(g, nil, nil), impactRep: newImpactRep(im)})
	return nil
}
