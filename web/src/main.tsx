import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { BrowserRouter } from 'react-router'
import { App } from './App'
import { setSessionLost } from './api/client'
import { ApiError } from './api/problem'
import { publicQueryFor } from './pages/public/queries'
import './styles.css'

const qc = new QueryClient({
  defaultOptions: {
    queries: {
      // Over the rate limit (429) or unavailable: wait and retry; a 4xx
      // problem is an answer, not retried.
      retry: (n, e) => (e instanceof ApiError && e.status < 500 && e.status !== 429 ? false : n < 4),
      retryDelay: (n) => Math.min(1000 * 2 ** n, 8000),
      refetchOnWindowFocus: true,
    },
  },
})
setSessionLost(() => qc.setQueryData(['me'], null))
// A verification page (opened from a QR code) asks the gateway at once,
// while React renders.
const verify = publicQueryFor(location.pathname)
if (verify) void qc.prefetchQuery(verify as never)

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={qc}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
)
