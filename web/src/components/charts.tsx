// ECharts, with only the parts these charts use (the chart pages are lazy
// chunks, so none of this is in the first load).
import { useEffect, useRef } from 'react'
import * as echarts from 'echarts/core'
import { HeatmapChart, LineChart } from 'echarts/charts'
import { AriaComponent, DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent, VisualMapComponent } from 'echarts/components'
import { CanvasRenderer } from 'echarts/renderers'
import type { Shaped } from '../lib/matching'
import { energy, percent } from '../lib/format'

echarts.use([HeatmapChart, LineChart, AriaComponent, DataZoomComponent, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent, VisualMapComponent, CanvasRenderer])

function useChart(option: echarts.EChartsCoreOption, label: string) {
  const ref = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!ref.current) return
    const chart = echarts.init(ref.current, undefined, { renderer: 'canvas' })
    chart.setOption(option)
    const ro = new ResizeObserver(() => chart.resize())
    ro.observe(ref.current)
    return () => {
      ro.disconnect()
      chart.dispose()
    }
  }, [option])
  return <div ref={ref} className="chart" role="img" aria-label={label} />
}

/** Heatmap is hour of day × day, coloured by the share of consumption matched. */
export function Heatmap({ s }: { s: Shaped }) {
  const option = {
    aria: { enabled: true },
    animation: false,
    tooltip: {
      formatter: (p: { value: [number, number, number | null] }) =>
        `${s.days[p.value[1]]} ${String(p.value[0]).padStart(2, '0')}:00 UTC<br/>matched: ${percent(p.value[2])}`,
    },
    // Hours without data have no cell: the grid's grey shows through.
    grid: { left: 80, right: 16, top: 8, bottom: 70, show: true, backgroundColor: '#c8ccc9', borderWidth: 0 },
    xAxis: { type: 'category', name: 'hour (UTC)', nameLocation: 'middle', nameGap: 28, data: Array.from({ length: 24 }, (_, i) => String(i)) },
    yAxis: { type: 'category', data: s.days, inverse: true },
    visualMap: {
      min: 0,
      max: 1,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      text: ['100% matched', '0%'],
      inRange: { color: ['#f3e6c4', '#7fbf7f', '#0b6b3a'] },
    },
    series: [
      {
        type: 'heatmap',
        data: s.cells.filter(([, , v]) => v !== null),
        progressive: 2000,
      },
    ],
  }
  const height = Math.min(900, Math.max(180, s.days.length * 14 + 90))
  return (
    <div style={{ height }} className="chart-box">
      {useChart(option, `Heatmap of the share of consumption matched by renewable supply, hour by hour over ${s.days.length} days; 24/7 score ${percent(s.score)}`)}
    </div>
  )
}

/** Series is consumption, supply and matched energy per hour, with gaps and grid surplus hours shaded. */
export function Series({ s }: { s: Shaped }) {
  const at = (arr: (number | null)[]) => s.times.map((t, i) => [t, arr[i]])
  const option = {
    aria: { enabled: true },
    animation: false,
    legend: { top: 0 },
    tooltip: { trigger: 'axis', valueFormatter: (v: number | null) => (v === null || v === undefined ? 'gap' : energy(v)) },
    grid: { left: 70, right: 16, top: 36, bottom: s.times.length > 48 ? 70 : 30 },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', axisLabel: { formatter: (v: number) => energy(v) } },
    dataZoom: s.times.length > 48 ? [{ type: 'inside' }, { type: 'slider', bottom: 10 }] : [],
    series: [
      {
        name: 'Consumption',
        type: 'line',
        showSymbol: false,
        step: 'start',
        data: at(s.consumption),
        lineStyle: { color: '#7a3e00', width: 1.5 },
        itemStyle: { color: '#7a3e00' },
        markArea: {
          silent: true,
          data: [
            ...s.gaps.map(([a, b]) => [{ xAxis: a, itemStyle: { color: 'rgba(80,80,80,0.18)' }, name: 'gap' }, { xAxis: b }]),
            ...s.surplus.map(([a, b]) => [{ xAxis: a, itemStyle: { color: 'rgba(0,110,200,0.12)' } }, { xAxis: b }]),
          ],
        },
      },
      { name: 'Renewable supply', type: 'line', showSymbol: false, step: 'start', data: at(s.supply), lineStyle: { color: '#b8860b', width: 1.5 }, itemStyle: { color: '#b8860b' } },
      { name: 'Matched', type: 'line', showSymbol: false, step: 'start', data: at(s.matched), areaStyle: { color: 'rgba(11,107,58,0.35)' }, lineStyle: { color: '#0b6b3a', width: 1 }, itemStyle: { color: '#0b6b3a' } },
    ],
  }
  return (
    <div style={{ height: 340 }} className="chart-box">
      {useChart(option, `Hourly consumption ${energy(s.totals.consumption)}, renewable supply ${energy(s.totals.supply)} and matched ${energy(s.totals.matched)}; ${s.gaps.length} gap periods shaded grey, ${s.surplus.length} grid surplus periods shaded blue`)}
    </div>
  )
}
