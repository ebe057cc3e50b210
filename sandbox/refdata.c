/*
 * refdata.c - static reference data.  Danish postcodes and cities are
 * real; company and person names are made up from common Danish (and
 * foreign) name parts; the chart of accounts follows the usual Danish
 * layout; tax rates and rulesets are our documented guess at Billy's
 * predefined Danish ones (README: "Tax rates").
 */
#include "refdata.h"

#include <string.h>

#define SL(arr) {arr, (int) (sizeof(arr) / sizeof(arr[0]))}

static const Country countries[] = {
	{"DK", "Denmark", true}, {"AT", "Austria", true}, {"BE", "Belgium", true},
	{"BG", "Bulgaria", true}, {"HR", "Croatia", true}, {"CY", "Cyprus", true},
	{"CZ", "Czech Republic", true}, {"EE", "Estonia", true}, {"FI", "Finland", true},
	{"FR", "France", true}, {"DE", "Germany", true}, {"GR", "Greece", true},
	{"HU", "Hungary", true}, {"IE", "Ireland", true}, {"IT", "Italy", true},
	{"LV", "Latvia", true}, {"LT", "Lithuania", true}, {"LU", "Luxembourg", true},
	{"MT", "Malta", true}, {"NL", "Netherlands", true}, {"PL", "Poland", true},
	{"PT", "Portugal", true}, {"RO", "Romania", true}, {"SK", "Slovakia", true},
	{"SI", "Slovenia", true}, {"ES", "Spain", true}, {"SE", "Sweden", true},
	{"NO", "Norway", false}, {"IS", "Iceland", false}, {"CH", "Switzerland", false},
	{"GB", "United Kingdom", false}, {"US", "United States", false},
	{"CA", "Canada", false}, {"AU", "Australia", false}, {"JP", "Japan", false},
	{"CN", "China", false}, {"FO", "Faroe Islands", false}, {"GL", "Greenland", false},
};

/* country_find looks a country up by ISO code */
const Country *
country_find(const char *code)
{
	if (code == NULL)
		return NULL;
	for (int i = 0; i < lengthof(countries); i++)
		if (strcmp(countries[i].code, code) == 0)
			return &countries[i];
	return NULL;
}

/* country_is_eu: is the country an EU member state? */
bool
country_is_eu(const char *code)
{
	const Country *c = country_find(code);

	return c != NULL && c->eu;
}

/* Danish names */
static const char *const dk_first[] = {
	"Anne", "Kirsten", "Hanne", "Mette", "Anna", "Helle", "Susanne", "Lene",
	"Maria", "Marianne", "Lone", "Camilla", "Pia", "Louise", "Charlotte",
	"Birgitte", "Sofie", "Emma", "Ida", "Freja", "Peter", "Jens", "Lars",
	"Michael", "Henrik", "Thomas", "Søren", "Jan", "Niels", "Christian",
	"Martin", "Rasmus", "Jesper", "Anders", "Mads", "Frederik", "Mikkel",
	"Jonas", "Kasper", "Morten",
};
static const char *const dk_surnames[] = {
	"Nielsen", "Jensen", "Hansen", "Andersen", "Pedersen", "Christensen",
	"Larsen", "Sørensen", "Rasmussen", "Jørgensen", "Petersen", "Madsen",
	"Kristensen", "Olsen", "Thomsen", "Christiansen", "Poulsen", "Johansen",
	"Møller", "Mortensen", "Knudsen", "Jakobsen", "Lauridsen", "Holm",
	"Østergaard", "Kjær", "Dahl", "Bach", "Frederiksen", "Lund",
};
static const char *const dk_words[] = {
	"Nordlys", "Fjordhus", "Kystlinje", "Bøgelund", "Skovly", "Havblik",
	"Lyngbakke", "Egeskov", "Stjerneborg", "Solgården", "Vestervang",
	"Møllegården", "Birkely", "Klitrose", "Strandlyst", "Ravnsborg",
	"Hyldegaard", "Ellebæk", "Granly", "Kildevang",
};
static const char *const dk_trade[] = {
	"Tømrer", "Arkitekter", "Byg", "Indretning", "Hotel", "Café", "Bageri",
	"Boligstyling", "Ejendomme", "Tandklinik", "Frisør", "Kontor", "Reklame",
	"Elektro", "VVS", "Maling", "Advokater", "Rådgivning", "Interiør",
	"Restaurant",
};
static const char *const dk_place[] = {
	"Nordsjælland", "Fyn", "Østjylland", "Vestegnen", "Amager", "Himmerland",
	"Djursland", "Lolland", "Bornholm", "Vendsyssel", "Sydsjælland",
	"Midtjylland",
};
static const char *const dk_streets[] = {
	"Vestergade", "Østergade", "Nørregade", "Søndergade", "Algade",
	"Hovedgaden", "Strandvejen", "Industrivej", "Håndværkervej",
	"Jernbanegade", "Kirkevej", "Skolevej", "Møllevej", "Bredgade",
	"Amagerbrogade", "Nørrebrogade", "Vesterbrogade", "Frederiksberg Allé",
	"Åboulevarden", "Banegårdspladsen", "Slotsgade", "Torvegade",
};
static const Place dk_places_zip[] = {
	{"1050", "København K"}, {"1620", "København V"}, {"2100", "København Ø"},
	{"2200", "København N"}, {"2300", "København S"}, {"2400", "København NV"},
	{"2450", "København SV"}, {"2500", "Valby"}, {"2600", "Glostrup"},
	{"2605", "Brøndby"}, {"2630", "Taastrup"}, {"2700", "Brønshøj"},
	{"2720", "Vanløse"}, {"2800", "Kongens Lyngby"}, {"2900", "Hellerup"},
	{"2920", "Charlottenlund"}, {"2970", "Hørsholm"}, {"3000", "Helsingør"},
	{"3400", "Hillerød"}, {"3700", "Rønne"}, {"4000", "Roskilde"},
	{"4200", "Slagelse"}, {"4600", "Køge"}, {"4700", "Næstved"},
	{"4800", "Nykøbing F"}, {"5000", "Odense C"}, {"5700", "Svendborg"},
	{"6000", "Kolding"}, {"6100", "Haderslev"}, {"6200", "Aabenraa"},
	{"6400", "Sønderborg"}, {"6700", "Esbjerg"}, {"7100", "Vejle"},
	{"7400", "Herning"}, {"7500", "Holstebro"}, {"7700", "Thisted"},
	{"8000", "Aarhus C"}, {"8200", "Aarhus N"}, {"8500", "Grenaa"},
	{"8600", "Silkeborg"}, {"8700", "Horsens"}, {"8800", "Viborg"},
	{"8900", "Randers C"}, {"9000", "Aalborg"}, {"9700", "Brønderslev"},
	{"9800", "Hjørring"},
};

/* foreign names, per country */
static const char *const de_sur[] = {"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann"};
static const char *const de_first[] = {"Anna", "Lukas", "Julia", "Felix", "Katrin", "Jonas", "Sabine", "Tobias"};
static const char *const de_words[] = {"Möbel", "Handel", "Design", "Technik", "Licht", "Holzwerk"};
static const char *const de_streets[] = {"Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Gartenstraße"};
static const Place de_places[] = {{"10115", "Berlin"}, {"20095", "Hamburg"}, {"80331", "München"}, {"50667", "Köln"}, {"24937", "Flensburg"}};

static const char *const se_sur[] = {"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson"};
static const char *const se_first[] = {"Elin", "Oskar", "Maja", "Erik", "Karin", "Johan", "Sara", "Anders"};
static const char *const se_words[] = {"Inredning", "Design", "Trä", "Belysning", "Handel"};
static const char *const se_streets[] = {"Storgatan", "Drottninggatan", "Kungsgatan", "Sveavägen"};
static const Place se_places[] = {{"111 22", "Stockholm"}, {"411 04", "Göteborg"}, {"211 20", "Malmö"}};

static const char *const nl_sur[] = {"de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser"};
static const char *const nl_first[] = {"Daan", "Sanne", "Lars", "Emma", "Bram", "Lotte"};
static const char *const nl_words[] = {"Interieur", "Design", "Handel", "Verlichting"};
static const char *const nl_streets[] = {"Keizersgracht", "Damrak", "Kalverstraat", "Coolsingel"};
static const Place nl_places[] = {{"1012 AB", "Amsterdam"}, {"3011 AA", "Rotterdam"}, {"3511 AB", "Utrecht"}};

static const char *const fr_sur[] = {"Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Lefèvre"};
static const char *const fr_first[] = {"Camille", "Louis", "Chloé", "Hugo", "Léa", "Julien"};
static const char *const fr_words[] = {"Design", "Mobilier", "Lumière", "Conseil"};
static const char *const fr_streets[] = {"Rue de Rivoli", "Avenue Victor Hugo", "Rue du Faubourg", "Boulevard Haussmann"};
static const Place fr_places[] = {{"75001", "Paris"}, {"69001", "Lyon"}, {"13001", "Marseille"}};

static const char *const fi_sur[] = {"Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Hämäläinen"};
static const char *const fi_first[] = {"Aino", "Eero", "Helmi", "Juha", "Sanna"};
static const char *const fi_words[] = {"Design", "Puu", "Valo", "Kaluste"};
static const char *const fi_streets[] = {"Mannerheimintie", "Aleksanterinkatu", "Hämeenkatu"};
static const Place fi_places[] = {{"00100", "Helsinki"}, {"33100", "Tampere"}, {"20100", "Turku"}};

static const char *const pl_sur[] = {"Nowak", "Kowalski", "Wiśniewski", "Wójcik", "Kamiński"};
static const char *const pl_first[] = {"Anna", "Piotr", "Katarzyna", "Tomasz", "Magda"};
static const char *const pl_words[] = {"Meble", "Drewno", "Handel", "Design"};
static const char *const pl_streets[] = {"ul. Marszałkowska", "ul. Długa", "ul. Piotrkowska"};
static const Place pl_places[] = {{"00-001", "Warszawa"}, {"80-001", "Gdańsk"}, {"30-001", "Kraków"}};

static const char *const ie_sur[] = {"Murphy", "Kelly", "O'Brien", "Walsh", "Byrne"};
static const char *const ie_first[] = {"Aoife", "Conor", "Niamh", "Sean", "Ciara"};
static const char *const ie_words[] = {"Digital", "Media", "Cloud", "Adsphere", "Clickwave"};
static const char *const ie_streets[] = {"Grafton Street", "Baggot Street", "Barrow Street"};
static const Place ie_places[] = {{"D02 X285", "Dublin"}, {"T12 R2NC", "Cork"}};

static const char *const at_sur[] = {"Gruber", "Huber", "Bauer", "Wagner", "Pichler"};
static const char *const at_first[] = {"Lena", "Florian", "Sophie", "Maximilian"};
static const char *const at_words[] = {"Möbel", "Handel", "Design", "Holz"};
static const char *const at_streets[] = {"Mariahilfer Straße", "Kärntner Straße", "Landstraße"};
static const Place at_places[] = {{"1010", "Wien"}, {"8010", "Graz"}, {"5020", "Salzburg"}};

static const char *const es_sur[] = {"García", "Fernández", "López", "Martínez", "Sánchez"};
static const char *const es_first[] = {"Lucía", "Pablo", "María", "Javier", "Carmen"};
static const char *const es_words[] = {"Diseño", "Muebles", "Iluminación", "Hogar"};
static const char *const es_streets[] = {"Calle de Alcalá", "Gran Vía", "Passeig de Gràcia"};
static const Place es_places[] = {{"28001", "Madrid"}, {"08001", "Barcelona"}, {"46001", "Valencia"}};

static const char *const no_sur[] = {"Hansen", "Johansen", "Olsen", "Berg", "Haugen", "Larsen"};
static const char *const no_first[] = {"Ingrid", "Ola", "Kari", "Magnus", "Silje"};
static const char *const no_words[] = {"Interiør", "Design", "Handel", "Bolig"};
static const char *const no_streets[] = {"Karl Johans gate", "Storgata", "Bryggen"};
static const Place no_places[] = {{"0150", "Oslo"}, {"5003", "Bergen"}, {"7010", "Trondheim"}};

static const char *const us_sur[] = {"Smith", "Johnson", "Williams", "Brown", "Miller"};
static const char *const us_first[] = {"Emily", "James", "Olivia", "Michael", "Ava"};
static const char *const us_words[] = {"Software", "Cloud", "Analytics", "Labs", "Stackline", "Pixelworks"};
static const char *const us_streets[] = {"Market Street", "Main Street", "5th Avenue", "Mission Street"};
static const Place us_places[] = {{"NY 10001", "New York"}, {"CA 94105", "San Francisco"}, {"TX 78701", "Austin"}};

static const char *const gb_sur[] = {"Smith", "Jones", "Taylor", "Brown", "Wilson"};
static const char *const gb_first[] = {"Oliver", "Amelia", "Harry", "Isla", "George"};
static const char *const gb_words[] = {"Design", "Trading", "Studio", "Digital", "Interiors"};
static const char *const gb_streets[] = {"High Street", "Baker Street", "Deansgate"};
static const Place gb_places[] = {{"EC1A 1BB", "London"}, {"M1 1AE", "Manchester"}, {"EH1 1YZ", "Edinburgh"}};

static const char *const ch_sur[] = {"Meier", "Keller", "Huber", "Müller", "Brunner"};
static const char *const ch_first[] = {"Lara", "Noah", "Mia", "Luca"};
static const char *const ch_words[] = {"Design", "Handel", "Technik", "Wohnen"};
static const char *const ch_streets[] = {"Bahnhofstrasse", "Limmatquai", "Marktgasse"};
static const Place ch_places[] = {{"8001", "Zürich"}, {"4051", "Basel"}, {"3011", "Bern"}};

#define PL_(arr) arr, (int) (sizeof(arr) / sizeof(arr[0]))

const CountryGen country_gens[] = {
	{"DK", CUR_DKK, "ApS", "dk", "da_DK", VAT_CVR, SL(dk_surnames), SL(dk_first), SL(dk_words), SL(dk_streets), PL_(dk_places_zip), "+45"},
	{"DE", CUR_EUR, "GmbH", "de", "de_DE", VAT_DE, SL(de_sur), SL(de_first), SL(de_words), SL(de_streets), PL_(de_places), "+49"},
	{"SE", CUR_SEK, "AB", "se", "en_US", VAT_SE, SL(se_sur), SL(se_first), SL(se_words), SL(se_streets), PL_(se_places), "+46"},
	{"NL", CUR_EUR, "B.V.", "nl", "nl_NL", VAT_NL, SL(nl_sur), SL(nl_first), SL(nl_words), SL(nl_streets), PL_(nl_places), "+31"},
	{"FR", CUR_EUR, "SAS", "fr", "fr_FR", VAT_FR, SL(fr_sur), SL(fr_first), SL(fr_words), SL(fr_streets), PL_(fr_places), "+33"},
	{"FI", CUR_EUR, "Oy", "fi", "en_US", VAT_FI, SL(fi_sur), SL(fi_first), SL(fi_words), SL(fi_streets), PL_(fi_places), "+358"},
	{"PL", CUR_EUR, "Sp. z o.o.", "pl", "en_US", VAT_PL, SL(pl_sur), SL(pl_first), SL(pl_words), SL(pl_streets), PL_(pl_places), "+48"},
	{"IE", CUR_EUR, "Ltd", "ie", "en_US", VAT_IE, SL(ie_sur), SL(ie_first), SL(ie_words), SL(ie_streets), PL_(ie_places), "+353"},
	{"AT", CUR_EUR, "GmbH", "at", "de_DE", VAT_AT, SL(at_sur), SL(at_first), SL(at_words), SL(at_streets), PL_(at_places), "+43"},
	{"ES", CUR_EUR, "S.L.", "es", "en_US", VAT_ES, SL(es_sur), SL(es_first), SL(es_words), SL(es_streets), PL_(es_places), "+34"},
	{"NO", CUR_DKK, "AS", "no", "en_US", VAT_NO, SL(no_sur), SL(no_first), SL(no_words), SL(no_streets), PL_(no_places), "+47"},
	{"US", CUR_USD, "Inc.", "com", "en_US", VAT_US, SL(us_sur), SL(us_first), SL(us_words), SL(us_streets), PL_(us_places), "+1"},
	{"GB", CUR_GBP, "Ltd", "co.uk", "en_US", VAT_GB, SL(gb_sur), SL(gb_first), SL(gb_words), SL(gb_streets), PL_(gb_places), "+44"},
	{"CH", CUR_EUR, "AG", "ch", "de_DE", VAT_CH, SL(ch_sur), SL(ch_first), SL(ch_words), SL(ch_streets), PL_(ch_places), "+41"},
};
const int	n_country_gens = lengthof(country_gens);

/* country_gen: name parts for a country (Denmark if unknown) */
const CountryGen *
country_gen(const char *code)
{
	for (int i = 0; i < n_country_gens; i++)
		if (strcmp(country_gens[i].code, code) == 0)
			return &country_gens[i];
	return &country_gens[0];
}

const StrList dk_company_words = SL(dk_words);
const StrList dk_trades = SL(dk_trade);
const StrList dk_places = SL(dk_place);

static const char *const org_name_list[] = {
	"Nordlys Design ApS", "Fjordhus Interiør ApS", "Kystlys Studio I/S",
	"Bøgelund Møbler A/S", "Skovsgaard & Friis ApS", "Havblik Living ApS",
	"Lyngbakke Lys & Rum ApS", "Egeskov Snedkeri ApS",
};
const StrList org_names = SL(org_name_list);

static const char *const private_domains[] = {"gmail.com", "hotmail.com", "outlook.dk", "live.dk", "mail.dk", "jubii.dk"};
const StrList email_domains_private = SL(private_domains);

/*
 * The chart of accounts.  Account numbers, names and default tax rates
 * follow the usual Danish small-business layout.
 */
const AccountDef account_defs[] = {
	{1110, "Salg af varer, Danmark", NAT_REVENUE, ROLE_NONE, TR_S25, false, false, CUR_NONE, "Salg af varer med dansk moms"},
	{1120, "Salg af varer, EU", NAT_REVENUE, ROLE_NONE, TR_EUV, false, false, CUR_NONE, "Salg af varer til virksomheder i andre EU-lande (rubrik B)"},
	{1130, "Salg af varer, udland", NAT_REVENUE, ROLE_NONE, TR_EKS, false, false, CUR_NONE, "Eksport uden for EU (rubrik C)"},
	{1140, "Salg af ydelser, Danmark", NAT_REVENUE, ROLE_NONE, TR_S25, false, false, CUR_NONE, "Salg af ydelser med dansk moms"},
	{1150, "Salg af ydelser, EU", NAT_REVENUE, ROLE_NONE, TR_EUY, false, false, CUR_NONE, "Salg af ydelser til virksomheder i andre EU-lande (rubrik B)"},
	{1160, "Salg af ydelser, udland", NAT_REVENUE, ROLE_NONE, TR_EKS, false, false, CUR_NONE, "Salg af ydelser uden for EU"},
	{1170, "Momsfrit salg (kurser)", NAT_REVENUE, ROLE_NONE, TR_FRI, false, false, CUR_NONE, "Momsfritaget salg, momslovens § 13"},
	{1310, "Varekøb, Danmark", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, "Køb af varer til videresalg"},
	{1320, "Varekøb, EU", NAT_EXPENSE, ROLE_NONE, TR_UV25, false, false, CUR_NONE, "Køb af varer fra andre EU-lande (rubrik A)"},
	{1330, "Fremmed arbejde", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, "Underleverandører"},
	{1340, "Fragt og told", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{2210, "Lønninger", NAT_EXPENSE, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{2750, "Restaurationsbesøg", NAT_EXPENSE, ROLE_NONE, TR_REP25, false, false, CUR_NONE, "25% af momsen kan fratrækkes"},
	{2760, "Gaver og blomster", NAT_EXPENSE, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{2800, "Annoncer og reklame", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{2810, "Annoncer, udenlandske platforme", NAT_EXPENSE, ROLE_NONE, TR_UY25, false, false, CUR_NONE, NULL},
	{3610, "Husleje", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3620, "El, vand og varme", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3640, "Rengøring", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3810, "Telefon og internet", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3820, "Software og abonnementer", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3830, "Kontorartikler", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3840, "Porto", NAT_EXPENSE, ROLE_NONE, TR_INGEN, false, false, CUR_NONE, NULL},
	{3860, "Revisor og bogholderi", NAT_EXPENSE, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{3870, "Forsikringer", NAT_EXPENSE, ROLE_NONE, TR_INGEN, false, false, CUR_NONE, "Forsikringer er momsfri"},
	{4310, "Bankgebyrer", NAT_EXPENSE, ROLE_NONE, TR_INGEN, false, false, CUR_NONE, NULL},
	{4350, "Realiserede valutakursdifferencer", NAT_EXPENSE, ROLE_FX, -1, false, false, CUR_NONE, "{System Account}"},
	{4410, "Renteindtægter", NAT_REVENUE, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{4420, "Renteudgifter", NAT_EXPENSE, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{5510, "Inventar og udstyr", NAT_ASSET, ROLE_NONE, TR_K25, false, false, CUR_NONE, NULL},
	{5710, "Debitorer", NAT_ASSET, ROLE_AR, -1, false, false, CUR_NONE, "Tilgodehavender fra salg. {System Account}"},
	{5810, "Bankkonto", NAT_ASSET, ROLE_NONE, -1, true, true, CUR_DKK, NULL},
	{5820, "Valutakonto EUR", NAT_ASSET, ROLE_NONE, -1, true, true, CUR_EUR, NULL},
	{5830, "Kasse", NAT_ASSET, ROLE_NONE, -1, true, false, CUR_DKK, NULL},
	{6810, "Kreditorer", NAT_LIABILITY, ROLE_AP, -1, false, false, CUR_NONE, "Gæld til leverandører. {System Account}"},
	{6900, "Salgsmoms", NAT_LIABILITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{6910, "Købsmoms", NAT_LIABILITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{6920, "Moms af varekøb i udlandet", NAT_LIABILITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{6930, "Moms af ydelseskøb i udlandet", NAT_LIABILITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{6940, "Momsafregning", NAT_LIABILITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{7010, "Egenkapital primo", NAT_EQUITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
	{7020, "Årets resultat", NAT_EQUITY, ROLE_NONE, -1, false, false, CUR_NONE, NULL},
};
const int	n_account_defs = lengthof(account_defs);

/*
 * The predefined tax rates (README "Tax rates").  share6 is the deductible
 * share of the VAT, booked to the Købsmoms account.
 */
const TaxRateDef taxrate_defs[TR__COUNT] = {
	{TR_S25, "S25", "Salgsmoms 25%", "Moms af salg i Danmark", 250000, true, false, false, 0, 0},
	{TR_EUV, "EUV", "EU-salg af varer (0%)", "Salg af varer til momsregistrerede virksomheder i andre EU-lande, rubrik B varer", 0, true, false, false, 0, 0},
	{TR_EUY, "EUY", "EU-salg af ydelser (0%)", "Salg af ydelser til virksomheder i andre EU-lande, rubrik B ydelser", 0, true, false, false, 0, 0},
	{TR_EKS, "EKS", "Eksport uden for EU (0%)", "Salg til lande uden for EU, rubrik C", 0, true, false, false, 0, 0},
	{TR_FRI, "FRI", "Momsfritaget salg", "Momsfritaget salg efter momslovens § 13", 0, true, false, false, 0, 0},
	{TR_K25, "K25", "Købsmoms 25%", "Moms af køb i Danmark, fuldt fradrag", 250000, false, true, false, 1000000, 6910},
	{TR_UV25, "UV25", "Udlandsmoms varer (EU) 25%", "Køb af varer fra andre EU-lande, omvendt betalingspligt (rubrik A varer)", 250000, false, true, true, 1000000, 6910},
	{TR_UY25, "UY25", "Udlandsmoms ydelser (EU) 25%", "Køb af ydelser fra andre EU-lande, omvendt betalingspligt (rubrik A ydelser)", 250000, false, true, true, 1000000, 6910},
	{TR_UYX25, "UYX25", "Udlandsmoms ydelser (uden for EU) 25%", "Køb af ydelser fra lande uden for EU, omvendt betalingspligt", 250000, false, true, true, 1000000, 6910},
	{TR_REP25, "REP25", "Restaurant 25% (25% fradrag)", "Restaurationsbesøg: 25% af momsen kan fratrækkes", 250000, false, true, false, 250000, 6910},
	{TR_INGEN, "INGEN", "Ingen moms", "Ingen moms og intet fradrag", 0, true, true, false, 0, 0},
};

/* what the generated business sells: lamps and furniture, design services, courses */
const ProductDef product_defs[] = {
	{PK_GOODS, "Pendel", 89900, 649900, 10000, 0},
	{PK_GOODS, "Bordlampe", 49900, 249900, 10000, 0},
	{PK_GOODS, "Gulvlampe", 129900, 499900, 10000, 0},
	{PK_GOODS, "Væglampe", 59900, 229900, 10000, 0},
	{PK_GOODS, "Spisebord", 599900, 2499900, 50000, 0},
	{PK_GOODS, "Sofabord", 199900, 899900, 50000, 0},
	{PK_GOODS, "Stol", 99900, 449900, 10000, 0},
	{PK_GOODS, "Bænk", 149900, 549900, 10000, 0},
	{PK_GOODS, "Reol", 249900, 1199900, 50000, 0},
	{PK_GOODS, "Skænk", 499900, 1799900, 50000, 0},
	{PK_GOODS, "Tæppe", 119900, 899900, 10000, 0},
	{PK_GOODS, "Pude", 29900, 89900, 5000, 0},
	{PK_GOODS, "Plaid", 49900, 149900, 5000, 0},
	{PK_GOODS, "Vase", 24900, 99900, 5000, 0},
	{PK_GOODS, "Spejl", 79900, 399900, 10000, 0},
	{PK_GOODS, "Lysestage", 19900, 69900, 5000, 0},
	{PK_SERVICE, "Konsulenttime", 85000, 125000, 5000, 1},
	{PK_SERVICE, "Designrådgivning", 95000, 135000, 5000, 1},
	{PK_SERVICE, "Indretningsplan", 450000, 1500000, 50000, 0},
	{PK_SERVICE, "Projektledelse", 90000, 115000, 5000, 1},
	{PK_SERVICE, "Montering og opsætning", 65000, 85000, 5000, 1},
	{PK_SERVICE, "Lysberegning", 250000, 800000, 50000, 0},
	{PK_SERVICE, "3D-visualisering", 300000, 1200000, 50000, 0},
	{PK_SERVICE, "Workshop (halv dag)", 600000, 1200000, 50000, 0},
	{PK_SERVICE, "Kørsel (km)", 379, 379, 1, 2},
	{PK_SERVICE, "Fragt og levering", 29500, 149500, 5000, 0},
	{PK_EXEMPT, "Kursus: Lys i hjemmet", 250000, 450000, 50000, 0},
	{PK_EXEMPT, "Kursus: Bæredygtig indretning", 300000, 600000, 50000, 0},
};
const int	n_product_defs = lengthof(product_defs);

static const char *const variants[] = {
	"Fjord", "Aura", "Klit", "Hav", "Bølge", "Skov", "Birk", "Lyng", "Sand",
	"Sten", "Ask", "Eg", "Ravn", "Måne", "Dug", "Tang",
};
const StrList product_variants = SL(variants);

/* suppliers: names are invented; amounts are net in the bill's currency */
const SupplierDef supplier_defs[] = {
	{SUP_RENT, "DK", "Ejendomsselskabet Vestervang ApS", 3610, TR_K25, TAX_EXCL, CUR_DKK, 1200000, 1800000, 8, 6, "Husleje"},
	{SUP_UTIL, "DK", "Sjællands Forsyning A/S", 3620, TR_K25, TAX_EXCL, CUR_DKK, 150000, 600000, 14, 3, "El og varme"},
	{SUP_PHONE, "DK", "Kystnet Telecom A/S", 3810, TR_K25, TAX_EXCL, CUR_DKK, 29900, 129900, 14, 6, "Mobil og bredbånd"},
	{SUP_ACCOUNTANT, "DK", "Revisionsfirmaet Holm & Dahl", 3860, TR_K25, TAX_EXCL, CUR_DKK, 250000, 1500000, 14, 3, "Bogføring og regnskab"},
	{SUP_OFFICE, "DK", "Kontorland Roskilde ApS", 3830, TR_K25, TAX_INCL, CUR_DKK, 15000, 250000, 0, 10, "Kontorartikler"},
	{SUP_FREIGHT, "DK", "Lund Transport A/S", 1340, TR_K25, TAX_EXCL, CUR_DKK, 45000, 450000, 30, 6, "Fragt"},
	{SUP_GOODS_DK, "DK", "Kjær Engros A/S", 1310, TR_K25, TAX_EXCL, CUR_DKK, 200000, 4000000, 30, 8, "Varekøb"},
	{SUP_GOODS_DK, "DK", "Bach Belysning ApS", 1310, TR_K25, TAX_EXCL, CUR_DKK, 150000, 2500000, 30, 6, "Lamper til videresalg"},
	{SUP_GOODS_EU, "DE", "Schmidt Möbel GmbH", 1320, TR_UV25, TAX_EXCL, CUR_EUR, 100000, 1500000, 30, 5, "Möbel"},
	{SUP_GOODS_EU, "SE", "Karlsson Belysning AB", 1320, TR_UV25, TAX_EXCL, CUR_SEK, 800000, 9000000, 30, 4, "Belysning"},
	{SUP_GOODS_EU, "PL", "Nowak Meble Sp. z o.o.", 1320, TR_UV25, TAX_EXCL, CUR_EUR, 80000, 900000, 30, 2, "Meble"},
	{SUP_SERVICE_EU, "IE", "Adsphere Ireland Ltd", 2810, TR_UY25, TAX_EXCL, CUR_EUR, 5000, 150000, 0, 5, "Online advertising"},
	{SUP_SERVICE_EU, "NL", "Visser Hosting B.V.", 3820, TR_UY25, TAX_EXCL, CUR_EUR, 1900, 19900, 14, 3, "Webhosting"},
	{SUP_SAAS, "US", "Stackline Software Inc.", 3820, TR_UYX25, TAX_EXCL, CUR_USD, 2900, 29900, 0, 5, "Subscription"},
	{SUP_SAAS, "US", "Pixelworks Cloud Inc.", 3820, TR_UYX25, TAX_EXCL, CUR_USD, 1200, 9900, 0, 3, "Cloud storage"},
	{SUP_SAAS, "GB", "Wilson Design Studio Ltd", 1330, TR_UYX25, TAX_EXCL, CUR_GBP, 30000, 250000, 30, 2, "Design services"},
	{SUP_RESTAURANT, "DK", "Restaurant Havblik", 2750, TR_REP25, TAX_INCL, CUR_DKK, 35000, 300000, 0, 8, "Frokostmøde med kunde"},
	{SUP_RESTAURANT, "DK", "Café Granly", 2750, TR_REP25, TAX_INCL, CUR_DKK, 15000, 90000, 0, 6, "Forretningsmøde"},
	{SUP_INSURANCE, "DK", "Dannevang Forsikring A/S", 3870, TR_INGEN, TAX_EXCL, CUR_DKK, 200000, 900000, 30, 2, "Erhvervsforsikring"},
};
const int	n_supplier_defs = lengthof(supplier_defs);
