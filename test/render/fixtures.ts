import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locale } from '../../src/config/schema.ts';
import { loadTemplateSources } from '../../src/project/load-templates.ts';
import { compileTemplates, type Templates } from '../../src/render/compile-templates.ts';
import type { Issue, IssueItem, IssueSection } from '../../src/issue/model.ts';
import type { IssueMeta, SiteInfo } from '../../src/render/types.ts';

/** The project's real template folder, as shipped. */
export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates');

/** Compiles the shipped templates (read from disk once per test file). */
export async function shippedTemplates(): Promise<Templates> {
  return compileTemplates(await loadTemplateSources(TEMPLATES_DIR));
}

/** Site facts like the sample config (`config/letterpress.json`), in either locale. */
export function sampleSite(overrides: Partial<SiteInfo> = {}): SiteInfo {
  return {
    url: 'https://news.example.org',
    title: '云计算技术动态',
    description: '每周精选的分布式系统、云计算与大模型技术文章。',
    author: { name: '云计算技术动态编辑部' },
    postalAddress: 'Letterpress 示例编辑部，上海市浦东新区示例路 1 号，200120',
    locale: 'zh-CN',
    timezone: 'Asia/Shanghai',
    feedLimit: 20,
    subjectTemplate: '{{title}}',
    ...overrides,
  };
}

/** The sample site in English chrome (same content). */
export function englishSite(overrides: Partial<SiteInfo> = {}): SiteInfo {
  return sampleSite({ locale: 'en' as Locale, ...overrides });
}

const SAMPLE: Array<{ title: string; items: Array<{ title: string; url: string; summary: string }> }> = [
  {
    title: '分布式系统',
    items: [
      {
        title: 'Google Fellow解读：分布式计算的第五个时代',
        url: 'https://mp.weixin.qq.com/s/iur1mcN1o0pKcUlxtw-0IA',
        summary:
          '本文探讨了分布式计算五个时代的演变，并详细讨论了第五代分布式计算的现状和未来趋势。文章以两位业界巨头 Mark Papermaster 和 Amin Vahdat 的对话为主线，分别从个人电脑时代、互联网时代、集群时代、大规模云计算时代和第五代分布式计算时代这五个角度，阐述了分布式计算技术不断发展与演变的过程。文章重点强调了在第五代分布式计算时代，随着摩尔定律的放缓，专用加速器的兴起以及对算力的需求不断增长，行业需要更加注重性能与功耗的平衡，并采用开放合作的模式来促进技术创新和行业发展。',
      },
      {
        title: 'AI存储之VAST Data分析 架构篇',
        url: 'https://mp.weixin.qq.com/s/TXPtyjkfDrdY0r9YB1b-yg',
        summary:
          '本文主要介绍了VAST Data存储系统的设计架构，包括硬件、软件和元数据管理等方面。VAST Data采用了一种分布式、无共享的存储架构，通过使用NVIDIA BlueField-3 DPU和NVMe-oF协议，实现了高效的数据读写和元数据管理，并通过独特的混合架构，确保了元数据的可靠性和高性能访问。',
      },
    ],
  },
  {
    title: '云计算技术',
    items: [
      {
        title: 'I/O Passthru：Linux内核中全新的I/O路径！',
        url: 'https://mp.weixin.qq.com/s/-oWaVFSgqOHXLT8ODOd2tw',
        summary:
          '本文介绍了 Linux 内核中一种新的 I/O 路径：I/O Passthru，旨在解决传统块存储接口无法满足新型非传统块存储设备（如 NVMe SSD）发展需求的问题。该路径通过字符设备接口，直接访问 NVMe SSD 的所有指令集，并利用 io_uring 的优势，实现高效、灵活的 I/O 访问，同时绕过块设备层，减少开销，提高性能。',
      },
      {
        title: '深入理解 RDMA 的软硬件交互机制',
        url: 'https://mp.weixin.qq.com/s/mppfRPxGALSOWdP9vXplUg',
        summary:
          '本文深入分析了RDMA技术在数据中心高性能网络环境下的工作原理及软硬件交互机制，通过对比传统Kernel TCP，突出了RDMA在减少延迟、提高系统性能方面的优势，同时讨论了其在内存管理、软硬交互方面的关键技术和挑战，为读者提供了全面理解RDMA技术及其应用场景的视角。',
      },
    ],
  },
  {
    title: '大模型技术',
    items: [
      {
        title: '再来谈谈大模型的分离式推理架构',
        url: 'https://mp.weixin.qq.com/s/oRQMEsAj3LoD8UbVtST3Lw',
        summary:
          '本文探讨了大模型分离式推理架构的软硬件演进, 着重分析了推理系统和训练系统的区别, 以及分离式推理架构在软件和硬件上的设计和优化方向. 文章认为, 分离式推理架构需要考虑数据和控制平面的分离, 以及GPU和CPU之间的紧密耦合和高效连接, 同时要兼顾成本、弹性和业务场景等因素.',
      },
      {
        title: 'AI/ML中使用的集体操作（collectives），以太网卸载以及硬件实现',
        url: 'https://mp.weixin.qq.com/s/ukxv0jkL5uHtyqbqvu2K0A',
        summary:
          '通过Juniper的Trio架构和Broadcom的Jericho3-AI芯片的例子，文章展示了在网计算的灵活性和高效性，以及它们如何支持复杂的集体操作。这些技术的发展预示着未来在网络设备中实现更智能、更高效的数据处理的可能性。',
      },
    ],
  },
  {
    title: '技术之外',
    items: [
      {
        title: 'AI与内存墙',
        url: 'https://mp.weixin.qq.com/s/qdEI_e141IV9biCeiyq2rA',
        summary:
          '20年里，硬件的峰值FLOPS增长了6万倍，而DRAM和互连带宽的增长却分别仅为100倍和30倍。根据这些趋势，内存——特别是芯片内和芯片间的内存传输——将很快成为制约大型AI模型服务能力的主要因素。因此，我们需要重新审视AI模型的训练、部署和设计，以及AI硬件的设计策略，以应对这一日益严重的“内存墙”问题。',
      },
      {
        title: '大模型算力需求推演',
        url: 'https://mp.weixin.qq.com/s/d8_C7d1n8dEgT6mUdsjDGg',
        summary:
          '这篇文章《Transformer FLOPs》主要讨论了在Transformer模型中计算浮点运算次数（FLOPs）的重要性和方法。本文通过详细的分析和示例，为读者提供了深入理解Transformer模型计算成本的途径，并强调了在设计和训练大型模型时考虑效率的重要性。',
      },
    ],
  },
];

/** An Issue shaped like `issues/2024-18.md` after parsing: 4 sections × 2 items. */
export function sampleIssue(overrides: Partial<Issue> = {}): Issue {
  let line = 3;
  const sections: IssueSection[] = SAMPLE.map((section, s) => {
    const sectionLine = line;
    line += 2;
    const items: IssueItem[] = section.items.map((item, i) => {
      const itemLine = line;
      line += 6;
      return {
        number: i + 1,
        title: item.title,
        url: item.url,
        summary: item.summary,
        anchor: `s${s + 1}-i${i + 1}`,
        position: { line: itemLine, column: 1 },
      };
    });
    return { title: section.title, anchor: `s${s + 1}`, items, position: { line: sectionLine, column: 1 } };
  });
  return {
    sourcePath: 'issues/2024-18.md',
    slug: '2024-18',
    title: '云计算技术动态 2024 年第十八期',
    number: 18,
    date: '2024-05-06T00:00:00+08:00',
    draft: false,
    email: true,
    year: 2024,
    summary: '本期看点：分布式计算的第五个时代、VAST Data 架构、I/O Passthru、RDMA、大模型分离式推理与内存墙。',
    seriesName: '云计算技术动态',
    isDigest: true,
    sections,
    contentHash: 'a'.repeat(64),
    ...overrides,
  };
}

/** Build facts for the sample issue: published 2024-05-06 in Shanghai, never edited. */
export function sampleMeta(overrides: Partial<IssueMeta> = {}): IssueMeta {
  return {
    date: '2024-05-06T00:00:00+08:00',
    updated: '2024-05-06T00:00:00+08:00',
    feedId: 'https://news.example.org/issues/2024-18/',
    ...overrides,
  };
}

/** The same issue with hostile content in every field an editor controls. */
export function hostileIssue(): Issue {
  const base = sampleIssue();
  const first = base.sections[0]!;
  const item = first.items[0]!;
  return sampleIssue({
    title: 'Hostile <b>bold</b> issue',
    summary: 'Preheader <script>alert(1)</script> and <img src=x onerror=alert(1)>',
    intro: 'Intro <script>alert("intro")</script> [click](javascript:alert(1)) ![pic](javascript:alert(2))',
    sections: [
      {
        ...first,
        title: 'Section <b>one</b>',
        intro: '<iframe src="https://evil.example/"></iframe>',
        items: [
          {
            ...item,
            title: 'Item <b>bold</b> title',
            url: 'javascript:alert(3)',
            summary: 'Summary <script>alert(1)</script> and <img src=x onerror=alert(1)>',
            notes:
              'See [x](javascript:alert(1)) and [y](JaVaScRiPt:alert(1)) and [z](&#106;avascript:alert(1)) ' +
              'and [d](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)' +
              ' and [ok](https://ok.example/path?a=1&b=2)',
          },
          ...first.items.slice(1),
        ],
      },
      ...base.sections.slice(1),
    ],
  });
}
