import { useEffect, useRef, useState } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useUser, useAuth } from "../auth/AuthContext";
import { allowed, NAV, ROLE_LABEL } from "../nav";

export function Layout() {
  const user = useUser();
  const { logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const main = useRef<HTMLElement>(null);
  const firstRender = useRef(true);

  useEffect(() => {
    // After in-app navigation, move focus to the new page's heading so keyboard and
    // screen-reader users land on it; a fresh page load starts at the top (skip link first).
    setMenuOpen(false);
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>("h1");
    heading?.focus();
  }, [location.pathname]);

  const items = NAV.filter((item) => allowed(user.role, item.roles));
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Sparring</span>
        <button
          type="button"
          className="menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="main-nav"
          onClick={() => setMenuOpen((open) => !open)}
        >
          Menu
        </button>
        <nav id="main-nav" aria-label="Main" className={menuOpen ? "open" : ""}>
          <ul>
            {items.map((item) => (
              <li key={item.path}>
                <NavLink to={item.path}>{item.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="account">
          <span className="who" title={user.email}>
            {user.name} <span className="muted">· {ROLE_LABEL[user.role]}</span>
          </span>
          <button
            type="button"
            className="secondary"
            onClick={async () => {
              await logout();
              navigate("/login", { replace: true });
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main}>
        <Outlet />
      </main>
    </div>
  );
}
