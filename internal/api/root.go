package api

import (
	"net/http"

	"github.com/metricsd/metricsd/internal/account"
)

// rootRep is LaunchDarkly's RootResponse.
type rootRep struct {
	Links links `json:"links"`
}

// getRoot lists the resource categories: the top-level collections
// metricsd serves (project-scoped ones are reached through the projects
// collection, as in LaunchDarkly's API).
func (s *Server) getRoot(w http.ResponseWriter, r *http.Request) error {
	rep := rootRep{Links: links{
		"auditLog":        jsonLink(auditPath),
		"caller-identity": jsonLink("/api/v2/caller-identity"),
		"members":         jsonLink(membersPath),
		"openapi":         jsonLink(openapiPath),
		"projects":        jsonLink("/api/v2/projects"),
		"roles":           jsonLink("/api/v2/roles"),
		"teams":           jsonLink("/api/v2/teams"),
		"tokens":          jsonLink("/api/v2/tokens"),
		"versions":        jsonLink("/api/v2/versions"),
	}}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// versionsRep is LaunchDarkly's VersionsRep.
type versionsRep struct {
	ValidVersions  []int `json:"validVersions"`
	LatestVersion  int   `json:"latestVersion"`
	CurrentVersion int   `json:"currentVersion"`
	Beta           bool  `json:"beta"`
}

// getVersions answers with the one REST API version metricsd serves, which
// is therefore also the version of every request; beta is true when the
// request asked for beta resources with LD-API-Version.
func (s *Server) getVersions(w http.ResponseWriter, r *http.Request) error {
	rep := versionsRep{ValidVersions: []int{account.APIVersion}, LatestVersion: account.APIVersion,
		CurrentVersion: account.APIVersion, Beta: wantsBeta(r)}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) addMemberToTeams(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	m, err := s.svc.Teams.AddMemberToTeams(r.Context(), r.PathValue("id"), body)
	if err != nil {
		return err
	}
	// Teams carry custom roles: the member's permissions may have changed.
	s.auth.clear()
	writeJSON(w, http.StatusCreated, newMemberRep(m, nil))
	return nil
}
