"""People's and companies' names for the builders, drawn from a run's seed and from nothing else.

A seeded Faker gives the same names only with the same Faker release: its documentation says results "are not
guaranteed to be consistent across patch versions" as its data sets are updated, and tells users to pin it to the
patch. webhook-sim cannot pin a package its users install beside their own, so a seed's names came to depend on
whichever Faker was installed. These lists are part of this package, and so is every name a seed gives.

The names are common United States given names and surnames; companies are made as Faker's `en_US` makes them.
"""

from __future__ import annotations

import random

_FIRST = """
    James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph
    Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret
    Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
    Melissa George Deborah Timothy Stephanie Ronald Dorothy Jason Rebecca Edward Sharon Jeffrey Laura Ryan
    Cynthia Jacob Amy Gary Kathleen Nicholas Angela Eric Shirley Jonathan Brenda Stephen Emma Larry Anna Justin
    Pamela Scott Nicole Brandon Samantha Benjamin Katherine Samuel Christine Gregory Helen Alexander Debra
    Patrick Rachel Frank Carolyn Raymond Janet Jack Maria Dennis Catherine Jerry Heather Tyler Diane Aaron
    Olivia Jose Julie Adam Joyce Nathan Victoria Henry Ruth Zachary Virginia Douglas Lauren Peter Kelly Kyle
    Christina Noah Joan Ethan Evelyn Jeremy Judith Christian Andrea Walter Hannah Keith Megan Austin Cheryl
    Roger Jacqueline Terry Martha Sean Madison Gerald Teresa Carl Gloria Dylan Sara Harold Janice Jordan Ann
    Jesse Kathryn Bryan Abigail Lawrence Sophia Arthur Frances Gabriel Jean Bruce Alice Logan Judy Billy
    Isabella Joe Julia Alan Grace Juan Amber Elijah Denise Willie Danielle Albert Marilyn Wayne Beverly Randy
    Charlotte Mason Natalie Vincent Theresa Liam Diana Roy Brittany Bobby Doris Caleb Kayla Bradley Alexis
    Russell Lori Lucas Marie
"""
FIRST_NAMES = tuple(_FIRST.split())

_LAST = """
    Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson
    Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
    Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
    Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart
    Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim
    Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo
    Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler
    Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds
    Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford
    Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman
    Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon
    Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice
    Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer
    Hawkins
"""
LAST_NAMES = tuple(_LAST.split())

COMPANY_SUFFIXES = ("Inc", "and Sons", "LLC", "Group", "PLC", "Ltd")


class Names:
    """A run's names: a `Random` of their own (`seed` mixed, so its draws are not a copy of the run's stream)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed ^ 0x5EED).random

    def _of(self, values: tuple[str, ...]) -> str:
        return values[int(self._random() * len(values))]

    def first_name(self) -> str:
        return self._of(FIRST_NAMES)

    def last_name(self) -> str:
        return self._of(LAST_NAMES)

    def company(self) -> str:
        """`Orr PLC`, `Hayes-Stone`, or `Lewis, Cole and Ford`: Faker's `en_US` forms, three to one to one."""
        form = self._random()
        if form < 0.6:
            return f"{self.last_name()} {self._of(COMPANY_SUFFIXES)}"
        if form < 0.8:
            return f"{self.last_name()}-{self.last_name()}"
        return f"{self.last_name()}, {self.last_name()} and {self.last_name()}"
