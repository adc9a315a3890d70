import { useState } from 'react'
import { useNavigate } from 'react-router'
import { useQueryClient } from '@tanstack/react-query'
import { roleHome, signIn } from '../auth'
import { messageOf } from '../api/problem'
import { Page } from '../components/ui'

export default function Login() {
  const [login, setLogin] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const qc = useQueryClient()
  const navigate = useNavigate()
  return (
    <main id="main" className="narrow">
      <Page title="Sign in to Greenmint" lead="The registry of mining sites' renewable energy certificates.">
        <form
          className="card"
          onSubmit={async (e) => {
            e.preventDefault()
            setError('')
            if (!login.trim() || !password) {
              setError('Enter your login and password.')
              return
            }
            setBusy(true)
            try {
              const user = await signIn(login.trim(), password)
              qc.clear()
              qc.setQueryData(['me'], user)
              navigate(roleHome[user.role] ?? '/')
            } catch (err) {
              setError(messageOf(err))
            } finally {
              setBusy(false)
            }
          }}
        >
          <div className="field">
            <label htmlFor="login">Login</label>
            <input id="login" name="login" autoComplete="username" value={login} onChange={(e) => setLogin(e.target.value)} required />
          </div>
          <div className="field">
            <label htmlFor="password">Password</label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
          </div>
          {error ? (
            <p className="problem" role="alert">
              {error}
            </p>
          ) : null}
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="muted-text">
          Holding a statement? Its QR code opens the public verification page; no account is needed.
        </p>
      </Page>
    </main>
  )
}
