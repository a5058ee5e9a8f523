/** Which pages each role may open. Navigation hides the rest; the server enforces it anyway. */
import type { Role } from "./api/types";

export const ADMINS: Role[] = ["dealership_admin", "super_admin"];
export const EVERYONE: Role[] = ["user", "dealership_admin", "super_admin"];

export interface NavItem {
  path: string;
  label: string;
  roles: Role[];
}

export const NAV: NavItem[] = [
  { path: "/practise", label: "Practise", roles: EVERYONE },
  { path: "/dashboard", label: "Dashboard", roles: EVERYONE },
  { path: "/documents", label: "Documents", roles: ADMINS },
  { path: "/staff", label: "Staff", roles: ADMINS },
  { path: "/personas", label: "Personas", roles: ADMINS },
  { path: "/scenarios", label: "Scenarios", roles: ADMINS },
  { path: "/rubrics", label: "Rubrics", roles: ADMINS },
  { path: "/reports", label: "Answer reports", roles: ADMINS },
  { path: "/assignments", label: "Assignments", roles: ADMINS },
  { path: "/teams", label: "Teams", roles: ADMINS },
  { path: "/programs", label: "Programmes", roles: ADMINS },
  { path: "/certification", label: "Certification", roles: ADMINS },
  { path: "/insight", label: "Team insight", roles: ADMINS },
  { path: "/reviews", label: "Review queue", roles: ADMINS },
  { path: "/webhooks", label: "Webhooks", roles: ADMINS },
  { path: "/dealerships", label: "Dealerships", roles: ["super_admin"] },
];

export function allowed(role: Role | undefined, roles: Role[]): boolean {
  return role !== undefined && roles.includes(role);
}

export function homeFor(role: Role): string {
  return role === "user" ? "/practise" : "/dashboard";
}

export const ROLE_LABEL: Record<Role, string> = {
  user: "Salesperson",
  dealership_admin: "Dealership admin",
  super_admin: "Super admin",
};
