import { lazy, Suspense, type ReactNode } from 'react'
import { Navigate, Route, Routes, useLocation } from 'react-router'
import { roleHome, useMe } from './auth'
import { Layout } from './components/Layout'
import { messageOf } from './api/problem'

// The public verification pages (a QR code opens them on a phone) are in
// the first chunk: they render, and ask the gateway, at once. Every other
// page is its own chunk, loaded when opened.
import VerifyRetirement from './pages/public/VerifyRetirement'
import VerifyBatch from './pages/public/VerifyBatch'
import VerifyListing from './pages/public/VerifyListing'
const Login = lazy(() => import('./pages/Login'))
const MinerSites = lazy(() => import('./pages/miner/Sites'))
const MinerRegister = lazy(() => import('./pages/miner/Register'))
const MinerSite = lazy(() => import('./pages/miner/SiteDetail'))
const MinerBatches = lazy(() => import('./pages/miner/Batches'))
const MinerHoldings = lazy(() => import('./pages/miner/Holdings'))
const Marketplace = lazy(() => import('./pages/buyer/Marketplace'))
const Portfolio = lazy(() => import('./pages/buyer/Portfolio'))
const Statements = lazy(() => import('./pages/buyer/Statements'))
const AuditSearch = lazy(() => import('./pages/auditor/Search'))
const Provenance = lazy(() => import('./pages/auditor/Provenance'))
const Flags = lazy(() => import('./pages/auditor/Flags'))
const Queues = lazy(() => import('./pages/registry/Queues'))
const Oracles = lazy(() => import('./pages/registry/Oracles'))
const Datasets = lazy(() => import('./pages/registry/Datasets'))
const Organisations = lazy(() => import('./pages/registry/Organisations'))
const RegistryFlags = lazy(() => import('./pages/registry/Flags'))
const RegistryBatches = lazy(() => import('./pages/registry/Batches'))
const Attest = lazy(() => import('./pages/oracle/Attest'))

function Wait() {
  return (
    <p role="status" className="muted-text page-wait">
      Loading…
    </p>
  )
}

/** SignedIn shows its routes to a signed-in user of one of `roles`. */
function SignedIn({ roles, children }: { roles?: string[]; children?: ReactNode }) {
  const me = useMe()
  const loc = useLocation()
  if (me.isPending) return <Wait />
  if (me.isError)
    return (
      <main id="main" className="narrow">
        <p className="problem" role="alert">
          {messageOf(me.error)}
        </p>
      </main>
    )
  if (!me.data) return <Navigate to="/login" replace state={{ from: loc.pathname }} />
  if (roles && !roles.includes(me.data.role)) {
    return <Navigate to={roleHome[me.data.role] ?? '/login'} replace />
  }
  return children ?? <Layout user={me.data} />
}

function Home() {
  const me = useMe()
  if (me.isPending) return <Wait />
  return <Navigate to={me.data ? (roleHome[me.data.role] ?? '/login') : '/login'} replace />
}

export function App() {
  return (
    <Suspense fallback={<Wait />}>
      <Routes>
        <Route path="/" element={<Home />} />
        <Route path="/login" element={<Login />} />
        <Route path="/verify/retirements/:id" element={<VerifyRetirement />} />
        <Route path="/verify/batches/:id" element={<VerifyBatch />} />
        <Route path="/verify/listings/:id" element={<VerifyListing />} />
        <Route element={<SignedIn roles={['miner']} />}>
          <Route path="/miner" element={<MinerSites />} />
          <Route path="/miner/register" element={<MinerRegister />} />
          <Route path="/miner/sites/:id" element={<MinerSite />} />
          <Route path="/miner/batches" element={<MinerBatches />} />
          <Route path="/miner/holdings" element={<MinerHoldings />} />
        </Route>
        <Route element={<SignedIn roles={['buyer']} />}>
          <Route path="/buyer" element={<Marketplace />} />
          <Route path="/buyer/portfolio" element={<Portfolio />} />
          <Route path="/buyer/statements" element={<Statements />} />
        </Route>
        <Route element={<SignedIn roles={['auditor']} />}>
          <Route path="/auditor" element={<AuditSearch />} />
          <Route path="/auditor/flags" element={<Flags />} />
        </Route>
        <Route element={<SignedIn roles={['auditor', 'registry']} />}>
          <Route path="/batches/:id" element={<Provenance />} />
          <Route path="/sites/:id" element={<MinerSite />} />
        </Route>
        <Route element={<SignedIn roles={['registry']} />}>
          <Route path="/registry" element={<Queues />} />
          <Route path="/registry/oracles" element={<Oracles />} />
          <Route path="/registry/datasets" element={<Datasets />} />
          <Route path="/registry/organisations" element={<Organisations />} />
          <Route path="/registry/flags" element={<RegistryFlags />} />
          <Route path="/registry/batches" element={<RegistryBatches />} />
        </Route>
        <Route element={<SignedIn roles={['oracle']} />}>
          <Route path="/oracle" element={<Attest />} />
        </Route>
        <Route
          path="*"
          element={
            <main id="main" className="narrow">
              <h1>Page not found</h1>
              <p>
                <a href="/">Go to your start page</a>
              </p>
            </main>
          }
        />
      </Routes>
    </Suspense>
  )
}
