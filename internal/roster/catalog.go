package roster

// roster's own permissions.
const (
	PermUsersView       = "users.view"
	PermUsersCreate     = "users.create"
	PermUsersManage     = "users.manage"
	PermUsersDelete     = "users.delete"
	PermRolesView       = "roles.view"
	PermRolesManage     = "roles.manage"
	PermProjectsViewAll = "projects.view_all"
	PermProjectsCreate  = "projects.create"
	PermProjectsManage  = "projects.manage"
	PermProjectsMembers = "projects.members"
	PermTokensManage    = "tokens.manage"
	PermAuditView       = "audit.view"
	PermSettingsManage  = "settings.manage"

	// The system organisation's own: its holders are system
	// administrators, who manage organisations and act in any of them.
	PermOrgsView   = "orgs.view"
	PermOrgsManage = "orgs.manage"
)

// The built-in roles.
const (
	RoleOwner     = "owner"
	RoleAdmin     = "admin"
	RoleManager   = "manager"
	RoleMember    = "member"
	RoleViewer    = "viewer"
	RoleDeveloper = "developer"
)

// BuiltinPermissions is roster's own permission catalog, in display order.
var BuiltinPermissions = []Permission{
	{Name: PermUsersView, Description: "see users and their details"},
	{Name: PermUsersCreate, Description: "create users directly and send invitations"},
	{Name: PermUsersManage, Description: "edit users, change their roles, deactivate, reactivate, set passwords, issue reset links, resend and revoke invitations"},
	{Name: PermUsersDelete, Description: "delete users who never did anything"},
	{Name: PermRolesView, Description: "see roles and permissions"},
	{Name: PermRolesManage, Description: "create, edit and delete custom roles and application permissions"},
	{Name: PermProjectsViewAll, Description: "see every project and its members"},
	{Name: PermProjectsCreate, Description: "create projects"},
	{Name: PermProjectsManage, Description: "edit, archive and delete any project; manage members of any project"},
	{Name: PermProjectsMembers, Description: "add and remove members of projects the holder is a member of"},
	{Name: PermTokensManage, Description: "create, list and revoke tokens of other users"},
	{Name: PermAuditView, Description: "read the audit log"},
	{Name: PermSettingsManage, Description: "change settings"},
}

// SystemPermissions exist only in the system organisation: every
// organisation has BuiltinPermissions, the system organisation these too.
var SystemPermissions = []Permission{
	{Name: PermOrgsView, Description: "see every organisation, and read inside any of them"},
	{Name: PermOrgsManage, Description: "create, rename, suspend, resume and delete organisations, and act in any of them as its owner"},
}

// OrgPermissions are the permissions roster itself defines in an
// organisation: the system organisation's include SystemPermissions.
func OrgPermissions(system bool) []Permission {
	if !system {
		return BuiltinPermissions
	}
	return append(append([]Permission(nil), BuiltinPermissions...), SystemPermissions...)
}

// BuiltinRole describes a locked role. AllPermissions means the role holds
// every permission, including application permissions registered later.
type BuiltinRole struct {
	Name           string
	Description    string
	AllPermissions bool
	Permissions    []string
}

// BuiltinRoles are the six locked roles, from most to least powerful;
// developer, Nexus ERP's fifth, came after the other five.
var BuiltinRoles = []BuiltinRole{
	{Name: RoleOwner, Description: "everything; the only role that can grant or revoke owner or act on an owner", AllPermissions: true},
	{Name: RoleAdmin, Description: "every permission, including application permissions", AllPermissions: true},
	{Name: RoleManager, Description: "see users and roles; manage members of their own projects", Permissions: []string{PermUsersView, PermRolesView, PermProjectsMembers}},
	{Name: RoleMember, Description: "see users", Permissions: []string{PermUsersView}},
	{Name: RoleViewer, Description: "see users, roles and every project", Permissions: []string{PermUsersView, PermRolesView, PermProjectsViewAll}},
	{Name: RoleDeveloper, Description: "see roles and permissions and read the audit log", Permissions: []string{PermRolesView, PermAuditView}},
}

// IsBuiltinRole reports whether name is one of the locked roles.
func IsBuiltinRole(name string) bool {
	for _, r := range BuiltinRoles {
		if r.Name == name {
			return true
		}
	}
	return false
}
