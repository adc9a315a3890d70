import { Link } from 'react-router'
import { BatchSearch } from '../../components/BatchSearch'
import { Page } from '../../components/ui'

export default function Search() {
  return (
    <Page title="Batch search" lead="Every batch on the registry. Open one to follow it from its meter readings to its retirements, check each step and flag it.">
      <BatchSearch link={(b) => <Link to={`/batches/${encodeURIComponent(b.id)}`}>{b.id}</Link>} />
    </Page>
  )
}
