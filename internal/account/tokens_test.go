package account

import (
	"testing"

	"github.com/metricsd/metricsd/internal/action"
	"github.com/metricsd/metricsd/internal/resource"
)

func TestCredentialGrant(t *testing.T) {
	renamer := Role{ID: "r1", Key: "renamer", BasePermissions: "reader", Policy: []Statement{{Effect: "allow", Resources: []string{"proj/*:metric/*"}, Actions: []string{"updateName"}}}}
	bare := Role{ID: "r5", Key: "bare", Policy: renamer.Policy}
	broken := Role{ID: "r2", Key: "broken", Policy: []Statement{{Effect: "sometimes", Resources: []string{"proj/*"}, Actions: []string{"*"}}}}
	viewer := Role{ID: "r3", Key: "viewer", BasePermissions: "reader", Policy: renamer.Policy}
	hidden := Role{ID: "r4", Key: "hidden", BasePermissions: "reader", Policy: []Statement{{Effect: "deny", Resources: []string{"proj/p"}, Actions: []string{"viewProject"}}}}
	metric := resource.Metric("p", "m", nil)
	ownToken := resource.Spec{Segments: []resource.Segment{{Kind: resource.KindMember, Name: "m1"}, {Kind: resource.KindToken, Name: "t"}}}
	cases := []struct {
		name       string
		c          Credential
		res        resource.Spec
		act        action.Action
		want       bool
		tokenRole  string
		accessRole string
	}{
		{"a token without a role has its member's permissions",
			Credential{Member: Member{ID: "m1", Role: "owner"}}, metric, action.DeleteMetric, true, "owner", "owner"},
		{"a reader token of a writer cannot write",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{Role: "reader"}}, metric, action.UpdateName, false, "reader", ""},
		{"a reader token manages its member's tokens",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{Role: "reader"}}, ownToken, action.DeleteAccessToken, true, "reader", "reader"},
		{"an admin token of a reader member is limited by the member",
			Credential{Member: Member{ID: "m1", Role: "reader"}, Token: Token{Role: "admin"}}, metric, action.UpdateName, false, "admin", ""},
		{"a custom-role token of a writer",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{CustomRoleIDs: []string{"r1"}}, TokenRoles: []Role{renamer}}, metric, action.UpdateName, true, "", "renamer"},
		{"a custom-role token cannot do what its role does not allow",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{CustomRoleIDs: []string{"r1"}}, TokenRoles: []Role{renamer}}, metric, action.UpdateTags, false, "", ""},
		{"a custom role with reader base permissions views the project",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{CustomRoleIDs: []string{"r3"}}, TokenRoles: []Role{viewer}}, resource.Project("p"), action.ViewProject, true, "", "viewer"},
		{"a custom role with no_access base permissions does not",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{CustomRoleIDs: []string{"r5"}}, TokenRoles: []Role{bare}}, resource.Project("p"), action.ViewProject, false, "", ""},
		{"nor may it change what it cannot view",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{CustomRoleIDs: []string{"r5"}}, TokenRoles: []Role{bare}}, metric, action.UpdateName, false, "", ""},
		{"a deny of viewProject in another held role wins over the base",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{CustomRoleIDs: []string{"r3", "r4"}}, TokenRoles: []Role{viewer, hidden}}, resource.Project("p"), action.ViewProject, false, "", "hidden"},
		{"a member's custom role adds to the base role",
			Credential{Member: Member{ID: "m1", Role: "reader"}, MemberRoles: []Role{renamer}, Token: Token{CustomRoleIDs: []string{"r1"}}, TokenRoles: []Role{renamer}}, metric, action.UpdateName, true, "", "renamer"},
		{"a service token is not limited by a member",
			Credential{Member: Member{ID: "m1", Role: "reader"}, Token: Token{Role: "writer", ServiceToken: true}}, metric, action.UpdateName, true, "writer", "writer"},
		{"an inline policy",
			Credential{Member: Member{ID: "m1", Role: "writer"}, Token: Token{InlineRole: []Statement{{Effect: "allow", Resources: []string{"proj/p"}, Actions: []string{"viewProject"}}, {Effect: "allow", Resources: []string{"proj/p:metric/m"}, Actions: []string{"delete*"}}}}}, metric, action.DeleteMetric, true, "", "inline"},
		{"a stored policy that no longer compiles denies everything",
			Credential{Member: Member{ID: "m1", Role: "owner"}, MemberRoles: []Role{broken}}, metric, action.UpdateName, false, "owner", ""},
		{"an unknown member role denies everything",
			Credential{Member: Member{ID: "m1", Role: "superuser"}}, metric, action.UpdateName, false, "superuser", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.c.Principal()
			d := p.Grant.Decide(c.res, c.act)
			if d.Allowed != c.want {
				t.Fatalf("allowed = %v, want %v (%+v)", d.Allowed, c.want, d)
			}
			if d.RoleName != c.accessRole {
				t.Errorf("decided by role %q, want %q", d.RoleName, c.accessRole)
			}
			if p.TokenRole != c.tokenRole {
				t.Errorf("TokenRole = %q, want %q", p.TokenRole, c.tokenRole)
			}
		})
	}
}
