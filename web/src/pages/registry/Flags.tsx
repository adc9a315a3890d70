import { Page } from '../../components/ui'
import { FlagList } from '../auditor/Flags'

export default function RegistryFlags() {
  return (
    <Page title="Flags to resolve" lead="Auditors' inquiries. Uphold or dismiss each with a resolution; the batch's units unfreeze once no flag is open.">
      <FlagList resolve />
    </Page>
  )
}
