"""A small background of general news text, written for this project.

``story`` computes inverse document frequencies over a story's seeds plus these
paragraphs, so that words any news report uses (officials, company, said, market, week)
weigh little and a story's own vocabulary weighs much. The paragraphs are invented, span
many beats (politics, economy, courts, sport, weather, health, science, culture, business,
technology) and are about no story in particular; they must never be tuned to a labelled
set. A deployment can pass its own background to ``story.build_reference``.
"""

from __future__ import annotations

BACKGROUND: tuple[str, ...] = (
    "The government announced on Tuesday a plan to expand rail services in the north, saying the "
    "investment would create thousands of jobs. Opposition leaders said the plan lacked detail and "
    "questioned how it would be paid for. A vote is expected next month.",
    "Inflation eased slightly last month as energy prices fell, official figures showed, but food "
    "costs continued to rise. Economists said the central bank was likely to keep interest rates "
    "unchanged at its next meeting while it waits for more data on wages.",
    "Shares in the retailer fell sharply after it cut its profit forecast, blaming weak consumer "
    "demand and higher costs. The chief executive said the company would close some stores and "
    "invest in its online business. Analysts said the outlook remained uncertain.",
    "A court ruled on Friday that the city had acted unlawfully when it approved the construction "
    "project without a full environmental review. Lawyers for the residents welcomed the decision. "
    "The city said it would consider an appeal.",
    "The home side scored twice in the second half to win the match and move to the top of the "
    "table. The coach praised his players for their patience after a difficult first half, and said "
    "the team would need to improve before the final next week.",
    "Heavy rain caused flooding in several towns overnight, closing roads and schools. Emergency "
    "services rescued dozens of people from their homes. Forecasters warned that more storms were "
    "expected over the weekend and urged residents to stay alert.",
    "Health officials reported a rise in hospital admissions for respiratory illness and encouraged "
    "older people to get vaccinated. Doctors said waiting times in emergency departments had "
    "lengthened and called for more staff and funding.",
    "Scientists have discovered a new species of frog in a remote mountain forest, according to a "
    "study published in a leading journal. The researchers said the region's biodiversity was under "
    "threat from logging and climate change.",
    "The film festival opened with the premiere of a drama about a family farm in crisis. Critics "
    "praised the performances, and the director said the story was inspired by her grandparents. "
    "Tickets for the week of screenings sold out within hours.",
    "The airline reported record passenger numbers for the summer but warned that rising fuel costs "
    "and delays in aircraft deliveries would weigh on profits. Its shares rose after it announced a "
    "new share buyback programme.",
    "The technology company unveiled a new smartphone with a larger screen, a faster chip and a "
    "longer battery life. Reviewers said the changes were modest. The phone goes on sale next month "
    "at a higher price than last year's model.",
    "Police arrested two men after a series of burglaries in the area, and officers said they were "
    "searching for a third suspect. Residents said they were relieved but wanted more patrols in "
    "the neighbourhood at night.",
    "The prime minister met leaders from neighbouring countries to discuss migration, energy and "
    "security. In a joint statement they agreed to strengthen cooperation at the border and to hold "
    "further talks before the end of the year.",
    "Teachers voted to strike over pay and workload, the union said, in a dispute that could close "
    "hundreds of schools. The education minister said the offer on the table was fair and urged "
    "the union to return to negotiations.",
    "The carmaker said it would build a new battery factory, creating around two thousand jobs, "
    "with support from the regional government. The plant is expected to begin production in three "
    "years, supplying electric vehicles for the European market.",
    "House prices rose for the fifth month in a row as mortgage rates edged lower, a survey found. "
    "First-time buyers still faced high costs, and estate agents said the number of homes for sale "
    "remained below normal levels.",
    "The museum returned a collection of ancient objects to the country where they were found, "
    "after a long campaign by historians and community groups. Officials described the return as "
    "an important step and said more items were under review.",
    "A software update caused problems for millions of computers used by banks, airports and "
    "hospitals, disrupting services for several hours. The company apologised and released a fix, "
    "and experts said the incident showed the risks of relying on a few suppliers.",
    "The tennis champion reached the final after beating her rival in straight sets. She said she "
    "had worked hard on her serve over the winter. Her opponent in the final will be a teenager "
    "playing in her first major tournament.",
    "Farmers warned that the dry summer had damaged crops and that prices for some vegetables "
    "could rise. The agriculture ministry said it would provide emergency support and review water "
    "restrictions in the worst affected areas.",
    "The social media platform said it would introduce new rules on political advertising before "
    "the election, including labels for paid content. Campaign groups said the changes did not go "
    "far enough to tackle false information online.",
    "Researchers at the university developed a cheaper method for recycling plastic, which they "
    "said could reduce waste significantly. The team plans to work with industry partners to test "
    "the process at a larger scale next year.",
    "The mayor announced a new plan to build affordable housing on former industrial land. Critics "
    "said the targets were too low, while developers said rising construction costs made such "
    "projects difficult without public money.",
    "The bank agreed to pay a fine to settle an investigation into failures in its controls against "
    "money laundering. Regulators said the failures had persisted for years. The bank said it had "
    "since invested heavily in compliance.",
    "Thousands of people marched through the capital to demand action on the cost of living. "
    "Organisers said the protest was peaceful. Government ministers said they understood the "
    "concerns and pointed to recent support for household energy bills.",
    "The startup raised new funding from investors to expand its delivery service to more cities. "
    "The founder said the company expected to become profitable next year, although it continues "
    "to lose money on each order in most markets.",
    "Astronomers observed a distant galaxy forming stars at an unusual rate, using data from a space "
    "telescope. The findings could help explain how galaxies grew in the early universe, the team "
    "said, although further observations are needed.",
    "The election commission published the final results, confirming that the ruling party had "
    "lost its majority. Party leaders began talks on forming a coalition, and analysts said "
    "negotiations could take several weeks.",
    "The hospital trust apologised after an inspection found serious failings in the care of "
    "patients on two wards. The inspectors said staff shortages and poor leadership were to blame, "
    "and ordered improvements within three months.",
    "Oil prices climbed after producers agreed to limit output, and analysts said the move could "
    "push up petrol prices for drivers. Consumer groups called on the government to cut fuel duty "
    "to ease pressure on household budgets.",
    "The company said it would use artificial intelligence tools to answer customer questions and "
    "process claims faster. Unions raised concerns about jobs, while the firm said staff would be "
    "retrained for other roles.",
    "A report by an independent think tank said public services needed more investment and warned "
    "that local councils faced a funding gap. The authors recommended reforms to how money is "
    "shared between central and local government.",
)
