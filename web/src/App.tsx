import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import type { Role } from "./api/types";
import { AuthProvider, useAuth } from "./auth/AuthContext";
import { Layout } from "./components/Layout";
import { RequireRole } from "./components/RequireRole";
import { Loading, PageHeader } from "./components/ui";
import { ADMINS, EVERYONE, homeFor } from "./nav";
import Login from "./pages/Login";

// Every page but the sign-in form loads on demand: the first visit downloads only the shell.
const Practise = lazy(() => import("./pages/Practise"));
const Dashboard = lazy(() => import("./pages/Dashboard"));
const SessionReview = lazy(() => import("./pages/SessionReview"));
const Documents = lazy(() => import("./pages/Documents"));
const Staff = lazy(() => import("./pages/Staff"));
const Personas = lazy(() => import("./pages/Personas"));
const Reports = lazy(() => import("./pages/Reports"));
const Dealerships = lazy(() => import("./pages/Dealerships"));
const Scenarios = lazy(() => import("./pages/Scenarios"));
const ScenarioBuilder = lazy(() => import("./pages/ScenarioBuilder"));
const Rubrics = lazy(() => import("./pages/Rubrics"));
const Assignments = lazy(() => import("./pages/Assignments"));
const Teams = lazy(() => import("./pages/Teams"));
const Programs = lazy(() => import("./pages/Programs"));
const Certifications = lazy(() => import("./pages/Certifications"));
const Webhooks = lazy(() => import("./pages/Webhooks"));
const Outbox = lazy(() => import("./pages/Outbox"));
// The pages of emailed links and "Forgot password?": public, and also loaded on demand.
const AcceptInvite = lazy(() => import("./pages/AccountLinks").then((m) => ({ default: m.AcceptInvite })));
const ResetPassword = lazy(() => import("./pages/AccountLinks").then((m) => ({ default: m.ResetPassword })));
const ForgotPassword = lazy(() => import("./pages/AccountLinks").then((m) => ({ default: m.ForgotPassword })));

function Public({ children }: { children: ReactNode }) {
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}
const TeamInsight = lazy(() => import("./pages/TeamInsight"));
const ReviewQueue = lazy(() => import("./pages/ReviewQueue"));

function SignedIn({ children }: { children: ReactNode }) {
  const { user, ready } = useAuth();
  const location = useLocation();
  if (!ready) return <Loading label="Starting…" />;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <>{children}</>;
}

function Home() {
  const { user } = useAuth();
  const { search } = useLocation(); // e.g. a reminder email's ?assignment=
  return <Navigate to={user ? { pathname: homeFor(user.role), search } : "/login"} replace />;
}

function page(roles: Role[], element: ReactNode) {
  return (
    <RequireRole roles={roles}>
      <Suspense fallback={<Loading />}>{element}</Suspense>
    </RequireRole>
  );
}

function NotFound() {
  return (
    <section>
      <PageHeader title="Page not found" />
      <p>There is nothing at this address.</p>
    </section>
  );
}

export function App() {
  return (
    <AuthProvider>
      <BrowserRouter>
        <Routes>
          <Route path="/login" element={<Login />} />
          <Route path="/invite" element={<Public><AcceptInvite /></Public>} />
          <Route path="/reset-password" element={<Public><ResetPassword /></Public>} />
          <Route path="/forgot-password" element={<Public><ForgotPassword /></Public>} />
          <Route
            element={
              <SignedIn>
                <Layout />
              </SignedIn>
            }
          >
            <Route index element={<Home />} />
            <Route path="practise" element={page(EVERYONE, <Practise />)} />
            <Route path="dashboard" element={page(EVERYONE, <Dashboard />)} />
            <Route path="sessions/:sessionId" element={page(EVERYONE, <SessionReview />)} />
            <Route path="documents" element={page(ADMINS, <Documents />)} />
            <Route path="staff" element={page(ADMINS, <Staff />)} />
            <Route path="personas" element={page(ADMINS, <Personas />)} />
            <Route path="scenarios" element={page(ADMINS, <Scenarios />)} />
            <Route path="scenarios/builder" element={page(ADMINS, <ScenarioBuilder />)} />
            <Route path="rubrics" element={page(ADMINS, <Rubrics />)} />
            <Route path="reports" element={page(ADMINS, <Reports />)} />
            <Route path="assignments" element={page(ADMINS, <Assignments />)} />
            <Route path="teams" element={page(ADMINS, <Teams />)} />
            <Route path="programs" element={page(ADMINS, <Programs />)} />
            <Route path="certification" element={page(ADMINS, <Certifications />)} />
            <Route path="webhooks" element={page(ADMINS, <Webhooks />)} />
            <Route path="outbox" element={page(ADMINS, <Outbox />)} />
            <Route path="insight" element={page(ADMINS, <TeamInsight />)} />
            <Route path="reviews" element={page(ADMINS, <ReviewQueue />)} />
            <Route path="dealerships" element={page(["super_admin"], <Dealerships />)} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </BrowserRouter>
    </AuthProvider>
  );
}
