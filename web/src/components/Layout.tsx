import { Suspense } from 'react'
import { NavLink, Outlet, useNavigate } from 'react-router'
import { useSignOut, type User } from '../auth'
import { LIVE_MS, useEventStream } from '../lib/live'

const nav: Record<string, [string, string][]> = {
  miner: [
    ['/miner', 'Sites & meters'],
    ['/miner/register', 'Register'],
    ['/miner/batches', 'Batches'],
    ['/miner/holdings', 'Holdings & sales'],
  ],
  buyer: [
    ['/buyer', 'Marketplace'],
    ['/buyer/portfolio', 'Portfolio & retire'],
    ['/buyer/statements', 'Statements'],
  ],
  auditor: [
    ['/auditor', 'Batch search'],
    ['/auditor/flags', 'Flags'],
  ],
  registry: [
    ['/registry', 'Queues'],
    ['/registry/flags', 'Flags'],
    ['/registry/batches', 'Cancel & withdraw'],
    ['/registry/oracles', 'Oracles & policy'],
    ['/registry/datasets', 'Datasets'],
    ['/registry/organisations', 'Organisations'],
  ],
  oracle: [['/oracle', 'Attest']],
}

export function Layout({ user }: { user: User }) {
  const signOut = useSignOut()
  const navigate = useNavigate()
  const streaming = useEventStream()
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="brand">
          <span aria-hidden="true">◆</span> Greenmint
        </div>
        <nav aria-label="Main">
          <ul>
            {(nav[user.role] ?? []).map(([to, label]) => (
              <li key={to}>
                <NavLink to={to} end>
                  {label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span className="who-text">
            <strong>{user.login}</strong> · {user.org} · <span className="role">{user.role}</span>
            {user.admin ? ' (admin)' : ''}
          </span>
          <span className="live" title={streaming ? 'Live: following the event stream' : `Refreshed every ${LIVE_MS / 1000} s`}>
            <span aria-hidden="true">{streaming ? '●' : '○'}</span> {streaming ? 'live' : 'polling'}
          </span>
          <button
            type="button"
            onClick={async () => {
              await signOut()
              navigate('/login')
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p role="status" className="muted-text">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </>
  )
}
